import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson } from '../helpers/env';
import { mockUpstream } from '../helpers/fetch';
import { anthropicStream, controlledStream, geminiStream, openaiChatStream } from '../helpers/wire';

// Streams pass through as they arrive: the test controls the upstream body and reads the client's
// side before the upstream has written (or finished) the rest.

afterEach(() => {
  vi.restoreAllMocks();
});

const decoder = new TextDecoder();

/** Read from the client's stream until `text` has arrived in full (fails after 3 s instead of hanging). */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, received: { text: string }, text: string) {
  const deadline = Date.now() + 3_000;
  while (!received.text.includes(text)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(received.text)}`);
    const chunk = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no chunk within 3 s; got ${JSON.stringify(received.text)}`)), remaining)),
    ]);
    if (chunk.done) throw new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(received.text)}`);
    received.text += decoder.decode(chunk.value, { stream: true });
  }
}

const UPSTREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-ratelimit-remaining-requests': '14399',
  'openai-processing-ms': '42',
  connection: 'keep-alive',
  'keep-alive': 'timeout=5',
  'proxy-authenticate': 'Basic',
  upgrade: 'h2c',
  trailer: 'x-checksum',
  'set-cookie': '__cf_bm=abc; path=/',
};

describe.each([
  [
    'OpenAI chat.completion.chunk',
    '/groq/v1/chat/completions',
    { model: 'llama-3.3-70b-versatile', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    openaiChatStream('llama-3.3-70b-versatile', ['Hel', 'lo', ' there']),
  ],
  [
    'Anthropic message events',
    '/anthropic/v1/messages',
    { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    anthropicStream('claude-sonnet-4-5', ['Hel', 'lo']),
  ],
  [
    'Gemini alt=sse',
    '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
    { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
    geminiStream(['Hel', 'lo', ' there']),
  ],
])('%s', (_, path, body, events) => {
  it('each event reaches the client before the upstream writes the next one', async () => {
    const upstream = controlledStream();
    mockUpstream(() => new Response(upstream.stream, { status: 200, headers: UPSTREAM_HEADERS }));
    const env = await makeEnv();
    upstream.push(events[0]!);
    const res = await app.request(path, postJson(body), env);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const received = { text: '' };
    for (const event of events) {
      if (event !== events[0]) upstream.push(event);
      await readUntil(reader, received, event);
      // Nothing beyond what the upstream has written so far.
      expect(received.text).toBe(events.slice(0, events.indexOf(event) + 1).join(''));
    }
    upstream.close();
    expect((await reader.read()).done).toBe(true);
    expect(received.text).toBe(events.join(''));
  });

  it('keeps status and content headers, drops hop-by-hop headers and cookies', async () => {
    const answer = new Response(events.join(''), { status: 200, headers: UPSTREAM_HEADERS });
    // The runtime keeps these on a Response it is handed, so dropping them is the gateway's doing.
    for (const name of ['connection', 'keep-alive', 'proxy-authenticate', 'upgrade', 'trailer', 'set-cookie']) {
      expect(answer.headers.has(name)).toBe(true);
    }
    mockUpstream(() => answer);
    const env = await makeEnv();
    const res = await app.request(path, postJson(body), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    // The provider's rate-limit state and timings are about the shared account: not for clients.
    expect(res.headers.has('x-ratelimit-remaining-requests')).toBe(false);
    expect(res.headers.has('openai-processing-ms')).toBe(false);
    for (const name of ['connection', 'keep-alive', 'proxy-authenticate', 'upgrade', 'trailer', 'set-cookie', 'transfer-encoding']) {
      expect(res.headers.has(name)).toBe(false);
    }
    expect(await res.text()).toBe(events.join(''));
  });
});

it('an event split across upstream chunks arrives whole, as soon as its last byte does', async () => {
  const upstream = controlledStream();
  mockUpstream(() => new Response(upstream.stream, { headers: { 'content-type': 'text/event-stream' } }));
  const env = await makeEnv();
  const events = openaiChatStream('llama-3.3-70b-versatile', ['Hello']);
  upstream.push(events[0]!);
  const res = await app.request(
    '/groq/v1/chat/completions',
    postJson({ model: 'llama-3.3-70b-versatile', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    env,
  );
  const reader = res.body!.getReader();
  const received = { text: '' };
  await readUntil(reader, received, events[0]!);
  const second = events[1]!;
  upstream.push(second.slice(0, 20));
  upstream.push(second.slice(20));
  await readUntil(reader, received, second);
  expect(received.text).toBe(events[0]! + second);
  upstream.push(events.slice(2).join(''));
  upstream.close();
  while (!(await reader.read()).done);
});

it('a chunked non-SSE stream (Gemini streamGenerateContent without alt=sse) is relayed as it arrives, not read whole', async () => {
  const upstream = controlledStream();
  mockUpstream(() => new Response(upstream.stream, { headers: { 'content-type': 'application/json; charset=UTF-8' } }));
  const env = await makeEnv();
  upstream.push('[{"candidates": [{"content": {"parts": [{"text": "Hel"}],"role": "model"}}]}\n');
  const res = await app.request('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent', postJson({ contents: [{ parts: [{ text: 'hi' }] }] }), env);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const received = { text: '' };
  await readUntil(reader, received, '"Hel"');
  upstream.push(',\r\n{"candidates": [{"content": {"parts": [{"text": "lo"}],"role": "model"},"finishReason": "STOP"}]}\n]');
  upstream.close();
  await readUntil(reader, received, '"STOP"');
  expect(JSON.parse(received.text)).toHaveLength(2);
});
