// Stand-in upstream answers in each provider's real wire format (shared/PROVIDERS.md).

const encoder = new TextEncoder();

export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A finished SSE body: each event is written as given (include the `data: ` / `event: ` lines). */
export function sseResponse(events: string[], headers: Record<string, string> = {}): Response {
  return new Response(events.join(''), {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers },
  });
}

/** A response body the test writes chunk by chunk, to observe what reaches the client and when. */
export function controlledStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    stream,
    push: (text: string) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close(),
    /** The body fails, as a dropped connection does. */
    fail: (error: Error) => controller.error(error),
  };
}

// --- OpenAI (and OpenAI-compatible: Groq, SambaNova, Mistral, OpenRouter, Morph) ---

export function openaiChatCompletion(model: string, content = 'Hello from the stand-in.') {
  return {
    id: 'chatcmpl-9x1Yq2standin',
    object: 'chat.completion',
    created: 1_763_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 },
    system_fingerprint: 'fp_standin',
  };
}

export function openaiChunk(model: string, delta: Record<string, unknown>, finishReason: string | null = null) {
  const chunk = {
    id: 'chatcmpl-9x1Yq2standin',
    object: 'chat.completion.chunk',
    created: 1_763_000_000,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** A complete chat.completion.chunk stream: role delta, one delta per piece, finish chunk, [DONE]. */
export function openaiChatStream(model: string, pieces: string[]): string[] {
  return [
    openaiChunk(model, { role: 'assistant', content: '' }),
    ...pieces.map((content) => openaiChunk(model, { content })),
    openaiChunk(model, {}, 'stop'),
    'data: [DONE]\n\n',
  ];
}

export function openaiTextCompletion(model: string) {
  return {
    id: 'cmpl-standin',
    object: 'text_completion',
    created: 1_763_000_000,
    model,
    choices: [{ text: ' world', index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

export function openaiEmbeddings(model: string) {
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.0023064255, -0.009327292, 0.015797347] }],
    model,
    usage: { prompt_tokens: 2, total_tokens: 2 },
  };
}

export function openaiImages() {
  return { created: 1_763_000_000, data: [{ url: 'https://images.example/standin.png', revised_prompt: 'a red fox' }] };
}

export function openaiModeration(model: string) {
  return {
    id: 'modr-standin',
    model,
    results: [{ flagged: false, categories: { violence: false }, category_scores: { violence: 0.0001 } }],
  };
}

export function openaiError(status: number, message: string, type: string, code: string | null): Response {
  return jsonResponse({ error: { message, type, param: null, code } }, status);
}

// --- Anthropic Messages ---

export function anthropicMessage(model: string, text = 'Hello from the stand-in.') {
  return {
    id: 'msg_01StandIn',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 6 },
  };
}

export function anthropicEvent(type: string, data: Record<string, unknown>) {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

export function anthropicStream(model: string, pieces: string[]): string[] {
  return [
    anthropicEvent('message_start', {
      message: { ...anthropicMessage(model), content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } },
    }),
    anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    anthropicEvent('ping', {}),
    ...pieces.map((text) => anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    anthropicEvent('content_block_stop', { index: 0 }),
    anthropicEvent('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } }),
    anthropicEvent('message_stop', {}),
  ];
}

export function anthropicError(status: number, type: string, message: string): Response {
  return jsonResponse({ type: 'error', error: { type, message } }, status);
}

// --- Gemini generateContent ---

export function geminiResponse(text = 'Hello from the stand-in.', finishReason = 'STOP') {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason, index: 0 }],
    usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 6, totalTokenCount: 10 },
    modelVersion: 'gemini-2.0-flash',
  };
}

/** `:streamGenerateContent?alt=sse` events (Gemini separates them with CRLF CRLF). */
export function geminiStream(pieces: string[]): string[] {
  return pieces.map((text, i) => `data: ${JSON.stringify(geminiResponse(text, i === pieces.length - 1 ? 'STOP' : ''))}\r\n\r\n`);
}

export function geminiError(status: number, message: string, statusName: string): Response {
  return jsonResponse({ error: { code: status, message, status: statusName } }, status);
}
