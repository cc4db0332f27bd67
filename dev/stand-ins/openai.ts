import type { Answer, Dialect, ErrorOptions, Incoming, StreamEvent } from './answer';
import { OPENAI_MODELS } from './catalog';
import {
  answerId,
  embeddingOf,
  float32Base64,
  jsonChunks,
  planReply,
  PromptCache,
  type Reply,
  reasoningFor,
  textChunks,
  textOf,
  TINY_PNG,
  tokenCount,
  TOOL_NAME,
  fitToSchema,
} from './conversation';
import { parseMultipart } from './multipart';
import { responses } from './responses';

// OpenAI-compatible wire format (Groq's flavour where they differ: error bodies without `param`,
// model listing with `context_window` and `max_completion_tokens`).

type Json = Record<string, unknown>;

const ERRORS: Record<number, { message: string; type: string; code: string | null }> = {
  400: { message: 'Bad request', type: 'invalid_request_error', code: null },
  401: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { message: 'Forbidden', type: 'permission_error', code: 'forbidden' },
  404: { message: 'The model `{model}` does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' },
  413: { message: 'Request Entity Too Large', type: 'invalid_request_error', code: 'request_too_large' },
  429: {
    message:
      'Rate limit reached for model `{model}` in organization `org_standin` service tier `on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in {retry}s. Visit https://console.groq.com/docs/rate-limits for more information.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null },
  502: { message: 'Bad gateway.', type: 'cf_bad_gateway', code: null },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
  504: { message: 'Gateway timeout.', type: 'cf_gateway_timeout', code: null },
};

export function openaiError(status: number, options: ErrorOptions = {}): Answer {
  const known = ERRORS[status] ?? ERRORS[status >= 500 ? 500 : 400]!;
  const headers: Record<string, string> = { 'x-request-id': answerId('req_') };
  if (options.retryAfter !== undefined) headers['retry-after'] = String(options.retryAfter);
  if (status === 429) headers['x-ratelimit-remaining-requests'] = '0';
  const message = options.message ?? known.message.replace('{model}', options.model ?? 'unknown').replace('{retry}', String(options.retryAfter ?? 2));
  return { kind: 'json', status, headers, body: { error: { message, type: known.type, code: known.code } } };
}

const ok = (body: unknown): Answer => ({ kind: 'json', status: 200, body, headers: { 'x-request-id': answerId('req_') } });
const sse = (chunks: unknown[]): Answer => ({
  kind: 'stream',
  format: 'sse',
  events: [...chunks.map((chunk): StreamEvent => ({ data: JSON.stringify(chunk) })), { data: '[DONE]' }],
  headers: { 'x-request-id': answerId('req_') },
});

const FINISH = { stop: 'stop', length: 'length', tool: 'tool_calls' } as const;

const usageOf = (reply: Reply, cached = 0) => ({
  prompt_tokens: reply.promptTokens,
  completion_tokens: reply.completionTokens,
  total_tokens: reply.promptTokens + reply.completionTokens,
  prompt_tokens_details: { cached_tokens: cached },
});

interface ChatMessage {
  role?: string;
  content?: unknown;
  tool_calls?: { id?: string }[];
  tool_call_id?: string;
}

/** OpenAI refuses a tool message that answers no tool call of the assistant message before it. */
function toolMessageRefusal(messages: ChatMessage[]): Answer | undefined {
  let open = new Set<string | undefined>();
  for (const message of messages) {
    if (message.role === 'assistant') open = new Set((message.tool_calls ?? []).map((call) => call.id));
    else if (message.role === 'tool') {
      if (!open.has(message.tool_call_id)) {
        return openaiError(400, { message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'." });
      }
    } else open = new Set();
  }
  return undefined;
}

/** Automatic prompt caching: a prompt whose leading messages were seen before reads them from the cache. */
/** OpenAI checks function parameters as JSON Schema: the root is `type: "object"` (lowercase). */
function toolSchemaRefusal(tools: unknown): Answer | undefined {
  for (const tool of Array.isArray(tools) ? (tools as { function?: { name?: string; parameters?: { type?: unknown } } }[]) : []) {
    const type = tool.function?.parameters?.type;
    if (type !== undefined && type !== 'object') {
      return openaiError(400, {
        message: `Invalid schema for function '${tool.function?.name}': schema must be a JSON Schema of 'type: "object"', got 'type: ${JSON.stringify(type)}'.`,
      });
    }
  }
  return undefined;
}

/**
 * What OpenAI (and Groq) refuse of a request's tools: a type other than `function` (`custom` only
 * where the model takes freeform tools), a name outside `^[a-zA-Z0-9_-]{1,64}$`, and
 * `web_search_options` on a model that does not search.
 */
function toolRefusal(body: Json): Answer | undefined {
  for (const [index, tool] of (Array.isArray(body.tools) ? (body.tools as { type?: unknown; function?: { name?: unknown } }[]) : []).entries()) {
    if (tool.type !== 'function') {
      return openaiError(400, { message: `Invalid value: '${String(tool.type)}'. Supported values are: 'function'. (tools[${index}].type)` });
    }
    const name = String(tool.function?.name ?? '');
    if (name.length > 64) {
      return openaiError(400, {
        message: `Invalid 'tools[${index}].function.name': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.`,
      });
    }
    if (!TOOL_NAME.test(name)) {
      return openaiError(400, {
        message: `Invalid 'tools[${index}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
      });
    }
  }
  if (body.web_search_options !== undefined && !/search/.test(String(body.model))) {
    return openaiError(400, { message: 'Web search options not supported with this model.' });
  }
  return undefined;
}

const cache = new PromptCache();

function chatReply(body: Json): Reply {
  const messages = body.messages as ChatMessage[];
  const lastUser = [...messages].reverse().find((m) => m.role === 'user' && textOf(m.content));
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: unknown } }[]) : [];
  const choice = body.tool_choice as string | { function?: { name?: string } } | undefined;
  const toolNames = choice === 'none' ? [] : tools.map((t) => t.function?.name).filter((n): n is string => typeof n === 'string');
  const forcedTool = choice === 'required' ? true : typeof choice === 'object' && choice.function?.name ? choice.function.name : undefined;
  return planReply({
    lastUserText: textOf(lastUser?.content),
    endsWithUserText: messages.at(-1)?.role === 'user',
    promptText: messages.map((m) => textOf(m.content)).join('\n'),
    toolNames,
    forcedTool,
    maxTokens: (body.max_completion_tokens ?? body.max_tokens) as number | undefined,
    toolResultsSinceUser: messages.slice(messages.findLastIndex((m) => m.role === 'user') + 1).filter((m) => m.role === 'tool').length,
  });
}

function chatCompletions(body: Json): Answer {
  if (typeof body.model !== 'string') return openaiError(400, { message: 'you must provide a model parameter' });
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return openaiError(400, { message: "'messages' : minimum number of items is 1" });
  }
  const refused = toolMessageRefusal(body.messages as ChatMessage[]) ?? toolSchemaRefusal(body.tools) ?? toolRefusal(body);
  if (refused) return refused;
  const reply = chatReply(body);
  const cached = Math.min(cache.lookup((body.messages as ChatMessage[]).map((m) => JSON.stringify(m))), reply.promptTokens);
  // Reasoning models answer `reasoning_effort` with their reasoning in `reasoning` (Groq's field).
  const reasoning = typeof body.reasoning_effort === 'string' && body.reasoning_effort !== 'none' ? reasoningFor(reply.lastUserText ?? '') : undefined;
  const id = answerId('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'chat.completion', created, model: body.model, system_fingerprint: 'fp_standin' };
  const callId = answerId('call_');
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string; parameters?: unknown } }[]) : [];
  const toolCall = reply.toolCall && fitToSchema(reply.toolCall, tools.find((t) => t.function?.name === reply.toolCall!.name)?.function?.parameters);

  if (body.stream !== true) {
    const message = toolCall
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: callId, type: 'function', function: { name: toolCall.name, arguments: toolCall.argumentsJson } }],
        }
      : { role: 'assistant', content: reply.text };
    return ok({
      ...base,
      choices: [{ index: 0, message: { ...message, ...(reasoning ? { reasoning } : {}) }, logprobs: null, finish_reason: FINISH[reply.finish] }],
      usage: usageOf(reply, cached),
    });
  }

  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const chunk = (delta: Json, finishReason: string | null = null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const thinking = reasoning
    ? textChunks(reasoning).map((piece, i) => chunk(i === 0 && toolCall ? { role: 'assistant', reasoning: piece } : { reasoning: piece }))
    : [];
  const chunks: unknown[] = toolCall
    ? [
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: toolCall.name, arguments: '' } }] }),
        ...jsonChunks(toolCall.argumentsJson).map((piece) => chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
      ]
    : [chunk({ role: 'assistant', content: '' }), ...textChunks(reply.text).map((piece) => chunk({ content: piece }))];
  chunks.splice(toolCall ? 0 : 1, 0, ...thinking);
  chunks.push(chunk({}, FINISH[reply.finish]));
  if (includeUsage) chunks.push({ ...base, object: 'chat.completion.chunk', choices: [], usage: usageOf(reply, cached) });
  return sse(chunks);
}

function completions(body: Json): Answer {
  if (typeof body.model !== 'string') return openaiError(400, { message: 'you must provide a model parameter' });
  const prompt = Array.isArray(body.prompt) ? body.prompt.join('\n') : String(body.prompt ?? '');
  const reply = planReply({
    lastUserText: prompt,
    endsWithUserText: true,
    promptText: prompt,
    toolNames: [],
    maxTokens: body.max_tokens as number | undefined,
  });
  const base = { id: answerId('cmpl-'), object: 'text_completion', created: Math.floor(Date.now() / 1000), model: body.model };
  const finish = FINISH[reply.finish];
  if (body.stream !== true) {
    return ok({ ...base, choices: [{ text: reply.text, index: 0, logprobs: null, finish_reason: finish }], usage: usageOf(reply) });
  }
  const pieces = textChunks(reply.text);
  return sse(pieces.map((text, i) => ({ ...base, choices: [{ text, index: 0, logprobs: null, finish_reason: i === pieces.length - 1 ? finish : null }] })));
}

function embeddings(body: Json): Answer {
  if (typeof body.model !== 'string') return openaiError(400, { message: 'you must provide a model parameter' });
  const raw = body.input;
  if (raw === undefined || raw === null || raw === '') return openaiError(400, { message: "'input' : input must be a string or an array" });
  const inputs = Array.isArray(raw) && raw.some((item) => typeof item !== 'number') ? (raw as unknown[]) : [raw];
  const texts = inputs.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
  const dimensions = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const base64 = body.encoding_format === 'base64';
  const data = texts.map((text, index) => {
    const vector = embeddingOf(text, dimensions);
    return { object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector };
  });
  const promptTokens = texts.reduce((sum, text) => sum + tokenCount(text), 0);
  return ok({ object: 'list', data, model: body.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
}

function imageGenerations(body: Json, origin: string): Answer {
  if (typeof body.prompt !== 'string' || !body.prompt) return openaiError(400, { message: "'prompt' is a required property" });
  const n = typeof body.n === 'number' ? body.n : 1;
  const asUrl = body.response_format === 'url';
  const data = Array.from({ length: n }, () =>
    asUrl ? { url: `${origin}/__files/image.png`, revised_prompt: body.prompt } : { b64_json: TINY_PNG.toString('base64'), revised_prompt: body.prompt },
  );
  return ok({ created: Math.floor(Date.now() / 1000), data });
}

const AUDIO_TYPES: Record<string, string> = { mp3: 'audio/mpeg', opus: 'audio/ogg', aac: 'audio/aac', flac: 'audio/flac', wav: 'audio/wav', pcm: 'audio/pcm' };

function speech(body: Json): Answer {
  if (typeof body.input !== 'string' || !body.input) return openaiError(400, { message: "'input' is a required property" });
  const format = typeof body.response_format === 'string' ? body.response_format : 'mp3';
  // An ID3 header followed by the input: recognisable bytes, not a playable file.
  const audio = Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 0x04, 0, 0, 0, 0, 0, 0]), Buffer.from(body.input)]);
  return { kind: 'bytes', status: 200, body: audio, headers: { 'content-type': AUDIO_TYPES[format] ?? 'audio/mpeg', 'x-request-id': answerId('req_') } };
}

function transcription(req: Incoming, task: 'transcribe' | 'translate'): Answer {
  const parts = parseMultipart(req.bytes, req.headers['content-type']);
  const file = parts.find((part) => part.name === 'file');
  if (!file) return openaiError(400, { message: "'file' is a required property" });
  if (!parts.some((part) => part.name === 'model')) return openaiError(400, { message: "'model' is a required property" });
  const text = `Transcript of ${file.filename ?? 'audio'} (${file.value.length} bytes)`;
  const format = parts.find((part) => part.name === 'response_format')?.value ?? 'json';
  if (format === 'text') return { kind: 'bytes', status: 200, body: text, headers: { 'content-type': 'text/plain; charset=utf-8' } };
  if (format === 'verbose_json') return ok({ task, language: 'english', duration: 1, text, segments: [] });
  return ok({ text });
}

const CATEGORIES = ['harassment', 'hate', 'self-harm', 'sexual', 'violence'];

function moderations(body: Json): Answer {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const results = inputs.map((input) => {
    const flagged = /\b(kill|violence)\b/i.test(typeof input === 'string' ? input : JSON.stringify(input));
    return {
      flagged,
      categories: Object.fromEntries(CATEGORIES.map((c) => [c, flagged && c === 'violence'])),
      category_scores: Object.fromEntries(CATEGORIES.map((c) => [c, flagged && c === 'violence' ? 0.97 : 0.0001])),
    };
  });
  return ok({ id: answerId('modr-'), model: typeof body.model === 'string' ? body.model : 'omni-moderation-latest', results });
}

const modelEntry = (model: (typeof OPENAI_MODELS)[number]) => ({
  id: model.id,
  object: 'model',
  created: 1733447754,
  owned_by: model.owned_by,
  active: true,
  context_window: model.context_window,
  public_apps: null,
  max_completion_tokens: model.max_completion_tokens,
});

const unknownUrl = (req: Incoming) =>
  openaiError(404, {
    message: `Unknown request URL: ${req.method} /${req.operation}. Please check the URL for typos, or see the docs at https://console.groq.com/docs/`,
  });

export const openai: Dialect = {
  keyOf: (req) => /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim(),
  authError: () => openaiError(401),
  error: openaiError,
  modelOf(req) {
    if (typeof req.json?.model === 'string') return req.json.model;
    if (req.operation.startsWith('audio/transcriptions') || req.operation.startsWith('audio/translations')) {
      return parseMultipart(req.bytes, req.headers['content-type']).find((part) => part.name === 'model')?.value;
    }
    return undefined;
  },
  handle(req) {
    if (req.method === 'GET') {
      if (req.operation === 'models') return ok({ object: 'list', data: OPENAI_MODELS.map(modelEntry) });
      if (req.operation.startsWith('models/')) {
        const id = decodeURIComponent(req.operation.slice('models/'.length));
        const model = OPENAI_MODELS.find((m) => m.id === id);
        return model ? ok(modelEntry(model)) : openaiError(404, { model: id });
      }
      return unknownUrl(req);
    }
    if (req.method !== 'POST') return unknownUrl(req);
    if (req.operation.startsWith('audio/transcriptions')) return transcription(req, 'transcribe');
    if (req.operation.startsWith('audio/translations')) return transcription(req, 'translate');
    if (!req.json) return openaiError(400, { message: 'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.' });
    switch (req.operation) {
      case 'chat/completions':
        return chatCompletions(req.json);
      case 'completions':
        return completions(req.json);
      case 'embeddings':
        return embeddings(req.json);
      case 'images/generations':
        return imageGenerations(req.json, req.origin);
      case 'audio/speech':
        return speech(req.json);
      case 'moderations':
        return moderations(req.json);
      case 'responses':
        return responses(req.json);
      default:
        return unknownUrl(req);
    }
  },
};
