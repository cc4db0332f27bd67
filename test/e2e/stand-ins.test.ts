import Anthropic from '@anthropic-ai/sdk';
import { createParser } from 'eventsource-parser';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';

// The stand-in providers, driven directly with plain fetch and the official SDKs: wire shapes of every
// dialect, faults, and the control API. Other e2e tests rely on all of this being right.

let standIn: StandIn;
beforeAll(async () => {
  standIn = await startStandIn();
});
afterAll(async () => {
  await standIn.close();
});
beforeEach(() => {
  standIn.reset();
  standIn.paceMs = 5;
});

interface SseEvent {
  event?: string;
  data: string;
  /** Milliseconds since the request was sent. */
  at: number;
}

/** Every SSE event of a response, with its arrival time. */
async function readSse(res: Response, sentAt = Date.now()): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event, data: e.data, at: Date.now() - sentAt }) });
  await feed(res, (text) => parser.feed(text));
  return events;
}

/** Read a body to its end, handing each piece of text over as it arrives. */
async function feed(res: Response, onText: (text: string) => void): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onText(decoder.decode(value, { stream: true }));
  }
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${standIn.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const openaiHeaders = (key = 'sk-test-1') => ({ authorization: `Bearer ${key}` });
const anthropicHeaders = (key = 'sk-ant-test-1') => ({ 'x-api-key': key, 'anthropic-version': '2023-06-01' });
const geminiHeaders = (key = 'AIza-test-1') => ({ 'x-goog-api-key': key });

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

describe('OpenAI-compatible dialect', () => {
  it('answers chat.completion JSON with the echo, finish_reason and usage', async () => {
    const res = await post(
      '/openai/v1/chat/completions',
      {
        model: 'llama-3.3-70b-versatile',
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'hello world' },
        ],
      },
      openaiHeaders(),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'llama-3.3-70b-versatile',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: hello world' }, finish_reason: 'stop' }],
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(body.usage.completion_tokens).toBe(Math.ceil('Echo: hello world'.length / 4));
  });

  it('streams chat.completion.chunk events: role first, content deltas, finish, usage chunk, [DONE]', async () => {
    const res = await post(
      '/openai/v1/chat/completions',
      { model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: [{ type: 'text', text: 'one two three' }] }] },
      openaiHeaders(),
    );
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe('Echo: one two three');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(2);
    const finish = chunks.at(-2);
    expect(finish.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(Math.ceil(content.length / 4));
  });

  it('without include_usage sends no usage chunk; max_tokens cuts the text with finish_reason length', async () => {
    const res = await post(
      '/openai/v1/chat/completions',
      { model: 'm', stream: true, max_tokens: 2, messages: [{ role: 'user', content: 'a long prompt here' }] },
      openaiHeaders(),
    );
    const chunks = (await readSse(res)).slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Echo: a ');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('length');
  });

  it('flushes each event as it is written: the first arrives long before the last', async () => {
    const sentAt = Date.now();
    const res = await post(
      '/openai/v1/chat/completions',
      { model: 'm', stream: true, messages: [{ role: 'user', content: 'a b c d' }] },
      { ...openaiHeaders(), 'x-stand-in-pace-ms': '80' },
    );
    const events = await readSse(res, sentAt);
    expect(events.length).toBe(8); // role, 5 words, finish, [DONE]
    // 7 pauses of 80 ms separate the first event from the last; buffering would deliver them together.
    expect(events.at(-1)!.at - events[0]!.at).toBeGreaterThanOrEqual(7 * 80 - 20);
  });

  it('is parsed by the official openai SDK: chat, stream, tool calls plain and streamed', async () => {
    const client = new OpenAI({ baseURL: `${standIn.url}/openai/v1`, apiKey: 'sk-sdk', maxRetries: 0 });
    const plain = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi sdk' }] });
    expect(plain.choices[0]!.message.content).toBe('Echo: hi sdk');

    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'streamed hi' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Echo: streamed hi');

    const toolCall = await client.chat.completions.create({
      model: 'm',
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'What is the weather in Lisbon?' }],
    });
    expect(toolCall.choices[0]!.finish_reason).toBe('tool_calls');
    const call = toolCall.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Lisbon' });

    const runner = client.chat.completions.stream({ model: 'm', tools: [weatherTool], messages: [{ role: 'user', content: 'weather in Oslo please' }] });
    const final = await runner.finalChatCompletion();
    const streamedCall = final.choices[0]!.message.tool_calls![0]!;
    expect(streamedCall.type === 'function' && JSON.parse(streamedCall.function.arguments)).toEqual({ location: 'Oslo' });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');

    const forced = await client.chat.completions.create({
      model: 'm',
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      messages: [{ role: 'user', content: 'no keyword here' }],
    });
    expect(forced.choices[0]!.message.tool_calls).toHaveLength(1);

    const afterTool = await client.chat.completions.create({
      model: 'm',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'weather in Oslo' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Oslo"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '12 degrees' },
      ],
    });
    expect(afterTool.choices[0]!.message.content).toBe('Echo: weather in Oslo');
  });

  it('serves completions, embeddings (float and base64 agree), images, speech, transcription, moderations, models', async () => {
    const client = new OpenAI({ baseURL: `${standIn.url}/openai/v1`, apiKey: 'sk-sdk', maxRetries: 0 });
    const completion = await client.completions.create({ model: 'm', prompt: 'finish me' });
    expect(completion.choices[0]!.text).toBe('Echo: finish me');

    const viaBase64 = await client.embeddings.create({ model: 'nomic-embed-text-v1.5', input: ['alpha', 'beta'] });
    const viaFloat = await client.embeddings.create({ model: 'nomic-embed-text-v1.5', input: ['alpha', 'beta'], encoding_format: 'float' });
    expect(viaBase64.data[0]!.embedding).toHaveLength(8);
    expect(viaBase64.data.map((d) => d.embedding)).toEqual(viaFloat.data.map((d) => d.embedding));
    expect(viaFloat.data[0]!.embedding).not.toEqual(viaFloat.data[1]!.embedding);
    expect(Math.hypot(...viaFloat.data[0]!.embedding)).toBeCloseTo(1, 5);

    const image = await client.images.generate({ model: 'gpt-image-1', prompt: 'a dot' });
    expect(Buffer.from(image.data![0]!.b64_json!, 'base64').subarray(1, 4).toString()).toBe('PNG');
    const imageUrl = (await client.images.generate({ model: 'dall-e-3', prompt: 'a dot', response_format: 'url' })).data![0]!.url!;
    expect((await fetch(imageUrl)).headers.get('content-type')).toBe('image/png');

    const speech = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'say this' });
    expect(speech.headers.get('content-type')).toBe('audio/mpeg');
    expect(
      Buffer.from(await speech.arrayBuffer())
        .subarray(0, 3)
        .toString(),
    ).toBe('ID3');

    const audio = Buffer.from([0x49, 0x44, 0x33, 0xff, 0x00, 0x80, 0x7f, 0xfe]);
    const transcript = await client.audio.transcriptions.create({ model: 'whisper-large-v3-turbo', file: await toFile(audio, 'clip.mp3') });
    expect(transcript.text).toBe('Transcript of clip.mp3 (8 bytes)');
    const upload = standIn.requests.at(-1)!;
    expect(upload.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload.bytes.includes(audio)).toBe(true);
    expect(upload.body).toContain('name="model"');

    const moderation = await client.moderations.create({ model: 'omni-moderation-latest', input: ['hello', 'I will kill it'] });
    expect(moderation.results.map((r) => r.flagged)).toEqual([false, true]);

    const models = (await (await fetch(`${standIn.url}/openai/v1/models`, { headers: openaiHeaders() })).json()) as { data: Record<string, unknown>[] };
    expect(models.data[0]).toMatchObject({ id: 'llama-3.3-70b-versatile', object: 'model', context_window: 131072, max_completion_tokens: 32768 });
    expect((await client.models.retrieve('llama-3.1-8b-instant')).id).toBe('llama-3.1-8b-instant');
  });

  it('answers 401 with the real error body without a key, and serves provider-style prefixes', async () => {
    const res = await post('/openai/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } });
    for (const prefix of ['/groq/openai/v1', '/sambanova/v1', '/openrouter/api/v1', '/gemini/v1beta/openai']) {
      const ok = await post(`${prefix}/chat/completions`, { model: 'm', messages: [{ role: 'user', content: prefix }] }, openaiHeaders());
      expect(((await ok.json()) as any).choices[0].message.content).toBe(`Echo: ${prefix}`);
    }
  });
});

describe('Anthropic dialect', () => {
  it('answers a message JSON with content blocks, stop_reason and usage', async () => {
    const res = await post(
      '/anthropic/v1/messages',
      { model: 'claude-sonnet-5', max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hello claude' }] },
      anthropicHeaders(),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5',
      content: [{ type: 'text', text: 'Echo: hello claude' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    expect(body.id).toMatch(/^msg_/);
    expect(body.usage.output_tokens).toBe(Math.ceil('Echo: hello claude'.length / 4));
  });

  it('streams named events in the real order', async () => {
    const res = await post(
      '/anthropic/v1/messages',
      { model: 'c', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'order please' }] },
      anthropicHeaders(),
    );
    const events = await readSse(res);
    const names = events.map((e) => e.event);
    expect(names.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(new Set(names.slice(3, -3))).toEqual(new Set(['content_block_delta']));
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => JSON.parse(e.data).delta.text)
      .join('');
    expect(text).toBe('Echo: order please');
    expect(JSON.parse(events.at(-2)!.data)).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { output_tokens: Math.ceil(text.length / 4) } });
  });

  it('is parsed by the official @anthropic-ai/sdk: create, stream, tool_use plain and streamed', async () => {
    const client = new Anthropic({ baseURL: `${standIn.url}/anthropic`, apiKey: 'sk-ant-sdk', maxRetries: 0 });
    const message = await client.messages.create({ model: 'c', max_tokens: 50, messages: [{ role: 'user', content: 'sdk hello' }] });
    expect(message.content).toEqual([{ type: 'text', text: 'Echo: sdk hello' }]);

    const stream = client.messages.stream({ model: 'c', max_tokens: 50, messages: [{ role: 'user', content: 'sdk stream' }] });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    expect((await stream.finalMessage()).stop_reason).toBe('end_turn');
    expect(deltas.join('')).toBe('Echo: sdk stream');
    expect(deltas.length).toBeGreaterThan(1);

    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } } }];
    const toolUse = await client.messages.create({ model: 'c', max_tokens: 50, tools, messages: [{ role: 'user', content: 'weather in Rome?' }] });
    expect(toolUse.stop_reason).toBe('tool_use');
    expect(toolUse.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { location: 'Rome' } });

    const streamedTool = await client.messages
      .stream({ model: 'c', max_tokens: 50, tools, messages: [{ role: 'user', content: 'weather in Kyiv?' }] })
      .finalMessage();
    expect(streamedTool.content[0]).toMatchObject({ type: 'tool_use', input: { location: 'Kyiv' } });

    const answered = await client.messages.create({
      model: 'c',
      max_tokens: 50,
      tools,
      messages: [
        { role: 'user', content: 'weather in Kyiv?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Kyiv' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
    });
    expect(answered.content).toEqual([{ type: 'text', text: 'Echo: weather in Kyiv?' }]);
  });

  it('refuses like Anthropic: no version header, no key, a system message, no max_tokens', async () => {
    const noVersion = await post('/anthropic/v1/messages', { model: 'c', max_tokens: 5, messages: [] }, { 'x-api-key': 'k' });
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });

    const noKey = await post('/anthropic/v1/messages', { model: 'c', max_tokens: 5, messages: [] }, { 'anthropic-version': '2023-06-01' });
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as any).error.type).toBe('authentication_error');

    const system = await post('/anthropic/v1/messages', { model: 'c', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, anthropicHeaders());
    expect(system.status).toBe(400);
    expect(((await system.json()) as any).error.message).toMatch(/top-level `system` parameter/);

    const noMax = await post('/anthropic/v1/messages', { model: 'c', messages: [{ role: 'user', content: 'x' }] }, anthropicHeaders());
    expect(((await noMax.json()) as any).error.message).toBe('max_tokens: Field required');
  });

  it('lists models', async () => {
    const res = await fetch(`${standIn.url}/anthropic/v1/models`, { headers: anthropicHeaders() });
    const body = (await res.json()) as { data: { type: string; id: string }[]; has_more: boolean };
    expect(body.has_more).toBe(false);
    expect(body.data[0]).toMatchObject({ type: 'model', id: 'claude-sonnet-5' });
  });
});

describe('Gemini dialect', () => {
  const gemini = (method: string, body: unknown, headers: Record<string, string> = geminiHeaders(), model = 'gemini-2.0-flash') =>
    post(`/gemini/v1beta/models/${model}:${method}`, body, headers);

  it('answers generateContent with candidates, finishReason and usageMetadata', async () => {
    const res = await gemini('generateContent', {
      systemInstruction: { parts: [{ text: 'be brief' }] },
      contents: [{ role: 'user', parts: [{ text: 'hello gemini' }] }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body.candidates[0]).toMatchObject({ content: { role: 'model', parts: [{ text: 'Echo: hello gemini' }] }, finishReason: 'STOP', index: 0 });
    expect(body.usageMetadata.candidatesTokenCount).toBe(Math.ceil('Echo: hello gemini'.length / 4));
    expect(body.usageMetadata.totalTokenCount).toBe(body.usageMetadata.promptTokenCount + body.usageMetadata.candidatesTokenCount);
    expect(body.modelVersion).toBe('gemini-2.0-flash');
  });

  it('streams alt=sse as data-only events framed with CRLF, the last with finishReason', async () => {
    const res = await post(
      '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
      { contents: [{ parts: [{ text: 'stream me now' }] }] },
      geminiHeaders(),
    );
    const raw = await res.clone().text();
    expect(raw.startsWith('data: {')).toBe(true);
    expect(raw).toContain('}\r\n\r\ndata: {');
    const events = (await readSse(res)).map((e) => JSON.parse(e.data));
    expect(events.length).toBeGreaterThan(2);
    expect(events.map((e) => e.candidates[0].content.parts[0].text).join('')).toBe('Echo: stream me now');
    expect(events.at(-1).candidates[0].finishReason).toBe('STOP');
    expect(events.slice(0, -1).every((e) => !('finishReason' in e.candidates[0]))).toBe(true);
  });

  it('streams a JSON array without alt=sse, and honours maxOutputTokens', async () => {
    const res = await gemini('streamGenerateContent', { contents: [{ parts: [{ text: 'array of things' }] }], generationConfig: { maxOutputTokens: 2 } });
    const array = JSON.parse(await res.text()) as any[];
    expect(array.map((e) => e.candidates[0].content.parts[0].text).join('')).toBe('Echo: ar');
    expect(array.at(-1).candidates[0].finishReason).toBe('MAX_TOKENS');
  });

  it('answers a functionCall part when tools are given and the weather is asked', async () => {
    const body = {
      contents: [{ role: 'user', parts: [{ text: 'weather in Madrid?' }] }],
      tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } } } }] }],
    };
    const res = (await (await gemini('generateContent', body)).json()) as any;
    expect(res.candidates[0].content.parts[0]).toEqual({ functionCall: { name: 'get_weather', args: { location: 'Madrid' } } });
    const streamed = (await readSse(await post('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', body, geminiHeaders()))).map((e) =>
      JSON.parse(e.data),
    );
    expect(streamed.flatMap((e) => e.candidates[0].content.parts)).toEqual([{ functionCall: { name: 'get_weather', args: { location: 'Madrid' } } }]);
  });

  it('embeds deterministically, lists models with limits, accepts ?key=', async () => {
    const one = (await (await gemini('embedContent', { content: { parts: [{ text: 'same' }] } }, geminiHeaders(), 'text-embedding-004')).json()) as any;
    const two = (await (await gemini('embedContent', { content: { parts: [{ text: 'same' }] } }, geminiHeaders(), 'text-embedding-004')).json()) as any;
    expect(one.embedding.values).toHaveLength(8);
    expect(one).toEqual(two);

    const models = (await (await fetch(`${standIn.url}/gemini/v1beta/models?key=AIza-query`)).json()) as { models: any[] };
    expect(models.models[0]).toMatchObject({ name: 'models/gemini-2.0-flash', inputTokenLimit: 1048576, outputTokenLimit: 8192 });
    expect(models.models[0].supportedGenerationMethods).toContain('generateContent');
    expect(standIn.requests.at(-1)!.key).toBe('AIza-query');
  });

  it('refuses like Google: 403 without a key, 400 API_KEY_INVALID for a revoked one', async () => {
    const none = await gemini('generateContent', { contents: [{ parts: [{ text: 'x' }] }] }, {});
    expect(none.status).toBe(403);
    expect(((await none.json()) as any).error.status).toBe('PERMISSION_DENIED');
    standIn.revokeKey('AIza-revoked');
    const revoked = await gemini('generateContent', { contents: [{ parts: [{ text: 'x' }] }] }, geminiHeaders('AIza-revoked'));
    expect(revoked.status).toBe(400);
    expect(((await revoked.json()) as any).error).toMatchObject({
      code: 400,
      message: 'API key not valid. Please pass a valid API key.',
      status: 'INVALID_ARGUMENT',
      details: [{ reason: 'API_KEY_INVALID' }],
    });
  });
});

describe('AI Gateway stand-in', () => {
  const base = '/gateway/v1/acct123/default';
  const aig = { 'cf-aig-authorization': 'Bearer aig-token' };

  it('requires cf-aig-authorization', async () => {
    const res = await post(`${base}/compat/chat/completions`, { model: 'groq/m', messages: [{ role: 'user', content: 'x' }] }, openaiHeaders());
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ success: false, result: [], messages: [], error: [{ code: 2009, message: 'Unauthorized' }] });
  });

  it('compat: strips the provider prefix and answers in the OpenAI format', async () => {
    const res = await post(
      `${base}/compat/chat/completions`,
      { model: 'groq/llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'via gateway' }] },
      { ...aig, ...openaiHeaders('gsk-1') },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cf-aig-cache-status')).toBe('MISS');
    expect(await res.json()).toMatchObject({ model: 'llama-3.3-70b-versatile', choices: [{ message: { content: 'Echo: via gateway' } }] });
    expect(standIn.requests.at(-1)).toMatchObject({ dialect: 'openai', key: 'gsk-1', path: `${base}/compat/chat/completions` });
    expect(standIn.requests.at(-1)!.headers['cf-aig-authorization']).toBe('Bearer aig-token');
  });

  it('provider-native paths dispatch to their dialect', async () => {
    const groq = await post(
      `${base}/groq/chat/completions`,
      { model: 'm', messages: [{ role: 'user', content: 'native groq' }] },
      { ...aig, ...openaiHeaders() },
    );
    expect(((await groq.json()) as any).choices[0].message.content).toBe('Echo: native groq');
    const claude = await post(
      `${base}/anthropic/v1/messages`,
      { model: 'c', max_tokens: 9, messages: [{ role: 'user', content: 'native claude' }] },
      { ...aig, ...anthropicHeaders() },
    );
    expect(((await claude.json()) as any).content[0].text).toBe('Echo: native claude');
    const gemini = await post(
      `${base}/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent`,
      { contents: [{ parts: [{ text: 'native gemini' }] }] },
      { ...aig, ...geminiHeaders() },
    );
    expect(((await gemini.json()) as any).candidates[0].content.parts[0].text).toBe('Echo: native gemini');
    const custom = await post(
      `${base}/custom-sambanova/chat/completions`,
      { model: 'm', messages: [{ role: 'user', content: 'custom' }] },
      { ...aig, ...openaiHeaders() },
    );
    expect(custom.status).toBe(200);
    expect(standIn.requests.map((r) => r.dialect)).toEqual(['openai', 'anthropic', 'gemini', 'openai']);
  });
});

describe('faults', () => {
  const chat = (key = 'sk-a', model = 'm', extra: Record<string, string> = {}) =>
    post('/openai/v1/chat/completions', { model, messages: [{ role: 'user', content: 'fault test' }] }, { ...openaiHeaders(key), ...extra });

  it('a status fault answers each dialect with its real error body and Retry-After, then is consumed', async () => {
    standIn.addFault({ status: 429, retryAfter: 7 });
    const limited = await chat();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    const limitError = ((await limited.json()) as any).error;
    expect(limitError).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(limitError.message).toMatch(/^Rate limit reached for model `m` .* Please try again in 7s\./);
    expect((await chat()).status).toBe(200);

    standIn.addFault({ status: 529, path: '/anthropic/' });
    const overloaded = await post('/anthropic/v1/messages', { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, anthropicHeaders());
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });

    standIn.addFault({ status: 429, retryAfter: 3, model: 'gemini-2.0-flash' });
    const exhausted = await post('/gemini/v1beta/models/gemini-2.0-flash:generateContent', { contents: [{ parts: [{ text: 'x' }] }] }, geminiHeaders());
    expect(exhausted.status).toBe(429);
    expect(((await exhausted.json()) as any).error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ retryDelay: '3s' }] });
  });

  it('matchers: only the named key and model; times counts down; Infinity never runs out', async () => {
    standIn.addFault({ key: 'sk-bad', status: 500, times: 2 });
    expect((await chat('sk-good')).status).toBe(200);
    expect((await chat('sk-bad')).status).toBe(500);
    expect((await chat('sk-bad')).status).toBe(500);
    expect((await chat('sk-bad')).status).toBe(200);
    expect(standIn.faults).toEqual([]);

    standIn.addFault({ model: 'llama-3.1-8b-instant', status: 503, times: Infinity });
    expect((await chat('sk-a', 'llama-3.3-70b-versatile')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await chat('sk-a', 'llama-3.1-8b-instant')).status).toBe(503);
    expect(standIn.requests.at(-1)!.fault).toMatchObject({ status: 503 });
  });

  it('delayFirstByteMs holds the status line back', async () => {
    standIn.addFault({ delayFirstByteMs: 300 });
    const started = Date.now();
    const res = await chat();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
  });

  it('resetAfterChunks sends n events then destroys the socket', async () => {
    standIn.addFault({ resetAfterChunks: 2 });
    const res = await post('/openai/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'a b c d e' }] }, openaiHeaders());
    expect(res.status).toBe(200);
    const received: string[] = [];
    const parser = createParser({ onEvent: (e) => received.push(e.data) });
    await expect(feed(res, (text) => parser.feed(text))).rejects.toThrow();
    expect(received).toHaveLength(2);

    standIn.addFault({ resetAfterChunks: 1 });
    const client = new Anthropic({ baseURL: `${standIn.url}/anthropic`, apiKey: 'k', maxRetries: 0 });
    await expect(client.messages.stream({ model: 'c', max_tokens: 50, messages: [{ role: 'user', content: 'cut' }] }).finalMessage()).rejects.toThrow();
  });

  it('invalidJson answers 200 with a truncated body', async () => {
    standIn.addFault({ invalidJson: true });
    const res = await chat();
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith('{"id":"chatcmpl-')).toBe(true);
    expect(() => JSON.parse(text)).toThrow();
  });

  it('hang never answers; the request is still recorded', async () => {
    standIn.addFault({ hang: true });
    const res = fetch(`${standIn.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: openaiHeaders(),
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
      signal: AbortSignal.timeout(300),
    });
    await expect(res).rejects.toThrow(/abort|timeout/i);
    expect(standIn.requests).toHaveLength(1);
  });

  it('x-stand-in-fault applies to one request without touching the queue', async () => {
    standIn.addFault({ status: 500, key: 'someone-else' });
    const res = await chat('sk-a', 'm', { 'x-stand-in-fault': JSON.stringify({ status: 503 }) });
    expect(res.status).toBe(503);
    expect(standIn.faults).toHaveLength(1);
  });
});

describe('control API and keys', () => {
  it('queues faults, revokes keys, lists requests and resets over HTTP', async () => {
    const control = (path: string, body?: unknown) =>
      fetch(`${standIn.url}/__control/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    expect((await control('faults', [{ status: 500 }, { status: 502, times: 'Infinity', key: 'sk-x' }])).status).toBe(200);
    expect(standIn.faults).toHaveLength(2);
    expect(standIn.faults[1]!.times).toBe(Infinity);
    expect((await control('faults', { times: 0 })).status).toBe(400);

    expect((await control('revoke', { key: 'sk-revoked' })).status).toBe(200);
    const revoked = await post('/openai/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, openaiHeaders('sk-revoked'));
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toEqual({ error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } });
    standIn.revokeKey('sk-ant-revoked');
    const claude = await post('/anthropic/v1/messages', { model: 'c', max_tokens: 5, messages: [] }, anthropicHeaders('sk-ant-revoked'));
    expect(claude.status).toBe(401);
    expect(((await claude.json()) as any).error).toEqual({ type: 'authentication_error', message: 'invalid x-api-key' });

    const listed = (await (await control('requests')).json()) as { path: string; headers: Record<string, string>; key: string }[];
    expect(listed.map((r) => r.key)).toEqual(['sk-revoked', 'sk-ant-revoked']);
    expect(listed[0]!.headers.authorization).toBe('Bearer sk-revoked');

    expect((await control('reset', {})).status).toBe(200);
    expect(standIn.requests).toEqual([]);
    expect(standIn.faults).toEqual([]);
    const again = await post('/openai/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'x' }] }, openaiHeaders('sk-revoked'));
    expect(again.status).toBe(200);
  });
});
