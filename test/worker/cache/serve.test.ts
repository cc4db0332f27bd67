import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { createParser } from 'eventsource-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { mockUpstream, type UpstreamCall } from '../helpers/fetch';
import { providerAnswer } from '../helpers/stand-in';
import { sealVault, testConfig } from '../helpers/vault';
import { anthropicStream, controlledStream, openaiChatStream, openaiError } from '../helpers/wire';
import { fixtureAnswer, forgetKeyRests } from '../unified/answers';

// The response cache through the real app in workerd: Cache API entries, the X-Switchyard-Cache
// header, what is and is not stored, and who may be answered from an entry. Every test asks
// questions no other test asks (a fresh nonce), since the Cache API keeps entries across tests.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const OTHER_KEY = 'sy-user-key-other-0123456789';
const USERS = { tester: { key: USER_KEY }, other: { key: OTHER_KEY } };

const nonce = () => crypto.randomUUID();

/** Each provider's answer in its wire format (Gemini's batch embeddings from the recorded fixture). */
const answer = (call: UpstreamCall) => (call.url.includes(':batchEmbedContents') ? fixtureAnswer(call) : providerAnswer(call));

interface Asked {
  res: Response;
  text: string;
}

/** One request with its own execution context, read to the end, its background work (the store) awaited. */
async function ask(env: Bindings, path: string, body: unknown, headers: Record<string, string> = {}, key = USER_KEY): Promise<Asked> {
  const ctx = createExecutionContext();
  const res = await app.request(path, { method: 'POST', headers: userHeaders(key, headers), body: JSON.stringify(body) }, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

const TTL = { 'X-Switchyard-Cache-Ttl': '600' };
const cacheOf = (asked: Asked) => asked.res.headers.get('x-switchyard-cache');

/** Every `data:` payload of an SSE text, parsed by eventsource-parser (a byte-invalid stream fails here). */
function sseData(text: string): string[] {
  const data: string[] = [];
  const parser = createParser({ onEvent: (event) => data.push(event.data) });
  parser.feed(text);
  return data;
}

/** The text an OpenAI chat stream, Anthropic message stream or Gemini stream spells out. */
function streamedText(text: string): string {
  return sseData(text)
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d))
    .map((e) => e.choices?.[0]?.delta?.content ?? e.delta?.text ?? e.candidates?.[0]?.content?.parts?.[0]?.text ?? '')
    .join('');
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: `hi ${nonce()}` }], ...extra });
const gemini = () => ({ contents: [{ role: 'user', parts: [{ text: `hi ${nonce()}` }] }] });

// Each operation in each route: [name, path, body factory, extra headers].
const OPERATIONS: [string, string, () => unknown, Record<string, string>?][] = [
  ['proxy chat/completions', '/groq/v1/chat/completions', () => chat('llama-3.3-70b-versatile')],
  ['proxy chat/completions stream', '/groq/v1/chat/completions', () => chat('llama-3.3-70b-versatile', { stream: true })],
  ['proxy completions', '/openai/v1/completions', () => ({ model: 'gpt-3.5-turbo-instruct', prompt: `say ${nonce()}` })],
  ['proxy embeddings', '/openai/v1/embeddings', () => ({ model: 'text-embedding-3-small', input: nonce() })],
  ['proxy Anthropic messages', '/anthropic/v1/messages', () => chat('claude-sonnet-4-5', { max_tokens: 64 })],
  ['proxy Anthropic messages stream', '/anthropic/v1/messages', () => chat('claude-sonnet-4-5', { max_tokens: 64, stream: true })],
  ['proxy Gemini generateContent', '/gemini/v1beta/models/gemini-2.0-flash:generateContent', gemini],
  ['proxy Gemini streamGenerateContent', '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', gemini],
  ['legacy X-Host-Final chat/completions', '/openai/v1/chat/completions', () => chat('llama-3.3-70b-versatile'), { 'X-Host-Final': 'api.groq.com' }],
  [
    'legacy X-Host-Final messages stream',
    '/v1/messages',
    () => chat('claude-sonnet-4-5', { max_tokens: 64, stream: true }),
    { 'X-Host-Final': 'api.anthropic.com' },
  ],
  ['unified /v1/chat/completions', '/v1/chat/completions', () => chat('llama-3.3-70b-versatile')],
  ['unified /v1/chat/completions stream', '/v1/chat/completions', () => chat('llama-3.3-70b-versatile', { stream: true })],
  ['unified /v1/chat/completions translated to Gemini, stream', '/v1/chat/completions', () => chat('gemini/gemini-2.0-flash', { stream: true })],
  ['unified /v1/embeddings', '/v1/embeddings', () => ({ model: 'text-embedding-3-small', input: nonce() })],
  ['unified /v1/embeddings translated to Gemini', '/v1/embeddings', () => ({ model: 'text-embedding-004', input: nonce() })],
  ['unified /v1/messages', '/v1/messages', () => chat('claude-sonnet-4-5', { max_tokens: 64 })],
  ['unified /v1/messages translated to Groq, stream', '/v1/messages', () => chat('groq/llama-3.3-70b-versatile', { max_tokens: 64, stream: true })],
];

describe.each(OPERATIONS)('%s', (_, path, makeBody, headers = {}) => {
  it('MISS calls the provider and stores; HIT answers the same bytes without a call; BYPASS without a TTL', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv();
    const body = makeBody();

    const miss = await ask(env, path, body, { ...headers, ...TTL });
    expect(miss.res.status).toBe(200);
    expect(cacheOf(miss)).toBe('MISS');
    expect(calls).toHaveLength(1);
    // The gateway's own request headers stay with the gateway.
    expect(calls[0]!.headers.has('x-switchyard-cache-ttl')).toBe(false);

    const hit = await ask(env, path, body, { ...headers, ...TTL });
    expect(hit.res.status).toBe(200);
    expect(cacheOf(hit)).toBe('HIT');
    expect(calls).toHaveLength(1);
    expect(hit.text).toBe(miss.text);
    expect(hit.res.headers.get('content-type')).toBe(miss.res.headers.get('content-type'));
    expect(hit.res.headers.get('x-switchyard-attempts')).toBe('0');
    expect(hit.res.headers.get('cache-control')).toBe('no-store');
    expect(hit.res.headers.get('x-request-id')).not.toBe(miss.res.headers.get('x-request-id'));
    if (miss.res.headers.get('content-type')!.includes('text/event-stream')) {
      // Replayed as a well-formed stream that spells the same answer.
      expect(streamedText(hit.text)).toBe(streamedText(miss.text));
      expect(streamedText(hit.text)).toContain('Hel');
    } else {
      expect(JSON.parse(hit.text)).toEqual(JSON.parse(miss.text));
    }

    const bypass = await ask(env, path, body, headers);
    expect(cacheOf(bypass)).toBe('BYPASS');
    expect(calls).toHaveLength(2);
  });
});

describe('what is not cached', () => {
  it('X-Switchyard-Cache-Ttl: 0 bypasses a stored answer, and operations outside the cacheable set bypass', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv();
    const body = chat('llama-3.3-70b-versatile');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL))).toBe('MISS');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, { 'X-Switchyard-Cache-Ttl': '0' }))).toBe('BYPASS');
    expect(calls).toHaveLength(2);

    const images = { model: 'dall-e-3', prompt: `a fox ${nonce()}` };
    expect(cacheOf(await ask(env, '/openai/v1/images/generations', images, TTL))).toBe('BYPASS');
    expect(cacheOf(await ask(env, '/openai/v1/images/generations', images, TTL))).toBe('BYPASS');
    expect(calls).toHaveLength(4);
  });

  it.each([
    ['400', () => openaiError(400, 'bad request', 'invalid_request_error', null)],
    ['500', () => openaiError(500, 'internal', 'server_error', null)],
    ['200 that is not JSON', () => new Response('{"choices": [', { headers: { 'content-type': 'application/json' } })],
  ])('an upstream %s answer is passed on (MISS) and never stored', async (_, answer) => {
    const { calls } = mockUpstream(() => answer());
    const env = await makeEnv({ vars: { MAX_ATTEMPTS: '1' } });
    const body = chat('llama-3.3-70b-versatile');
    const first = await ask(env, '/groq/v1/chat/completions', body, TTL);
    expect(first.res.status).toBeGreaterThanOrEqual(400);
    forgetKeyRests();
    const second = await ask(env, '/groq/v1/chat/completions', body, TTL);
    expect(second.res.status).toBe(first.res.status);
    expect(calls).toHaveLength(2);
  });

  it('a stream the upstream breaks off is passed on with its error event and not stored', async () => {
    const model = 'llama-3.3-70b-versatile';
    const events = openaiChatStream(model, ['Hel', 'lo']);
    let upstream = controlledStream();
    const { calls } = mockUpstream(() => new Response(upstream.stream, { headers: { 'content-type': 'text/event-stream' } }));
    const env = await makeEnv();
    const body = chat(model, { stream: true });

    upstream.push(events[0]!);
    upstream.push(events[1]!);
    const ctx = createExecutionContext();
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(USER_KEY, TTL), body: JSON.stringify(body) }, env, ctx);
    // The answer has begun: now the connection drops.
    upstream.fail(new Error('connection reset'));
    const first = { res, text: await res.text() };
    await waitOnExecutionContext(ctx);
    expect(cacheOf(first)).toBe('MISS');
    expect(first.text).toContain('upstream_stream_failed');

    upstream = controlledStream();
    for (const event of events) upstream.push(event);
    upstream.close();
    const second = await ask(env, '/groq/v1/chat/completions', body, TTL);
    expect(cacheOf(second)).toBe('MISS');
    expect(calls).toHaveLength(2);
    const third = await ask(env, '/groq/v1/chat/completions', body, TTL);
    expect(cacheOf(third)).toBe('HIT');
    expect(third.text).toBe(events.join(''));
  });

  it('a stream that ends without its end marker (connection closed early) is not stored', async () => {
    const model = 'claude-sonnet-4-5';
    const events = anthropicStream(model, ['Hel', 'lo']);
    const { calls } = mockUpstream(() => new Response(events.slice(0, 4).join(''), { headers: { 'content-type': 'text/event-stream' } }));
    const env = await makeEnv();
    const body = chat(model, { max_tokens: 64, stream: true });
    expect(cacheOf(await ask(env, '/anthropic/v1/messages', body, TTL))).toBe('MISS');
    expect(cacheOf(await ask(env, '/anthropic/v1/messages', body, TTL))).toBe('MISS');
    expect(calls).toHaveLength(2);
  });
});

describe('X-Switchyard-Cache-Ttl', () => {
  it.each(['abc', '-1', '1.5', '86401', '1e3', ''])('%j is a 400 naming the header, and nothing is sent', async (value) => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv();
    const { res, text } = await ask(env, '/groq/v1/chat/completions', chat('llama-3.3-70b-versatile'), { 'X-Switchyard-Cache-Ttl': value });
    expect(res.status).toBe(400);
    const { error } = JSON.parse(text);
    expect(error.code).toBe('invalid_cache_ttl');
    expect(error.message).toContain('X-Switchyard-Cache-Ttl');
    expect(calls).toHaveLength(0);
  });

  it('86400 is accepted', async () => {
    mockUpstream(answer);
    const env = await makeEnv();
    const { res } = await ask(env, '/groq/v1/chat/completions', chat('llama-3.3-70b-versatile'), { 'X-Switchyard-Cache-Ttl': '86400' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-cache')).toBe('MISS');
  });

  it('an entry older than the TTL is a MISS; the reader TTL bounds the age it accepts', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv();
    const body = { model: 'text-embedding-3-small', input: nonce() };
    const realNow = Date.now.bind(Date);
    let offset = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);

    expect(cacheOf(await ask(env, '/openai/v1/embeddings', body, { 'X-Switchyard-Cache-Ttl': '600' }))).toBe('MISS');
    offset = 120_000;
    const aged = await ask(env, '/openai/v1/embeddings', body, { 'X-Switchyard-Cache-Ttl': '600' });
    expect(cacheOf(aged)).toBe('HIT');
    expect(Number(aged.res.headers.get('age'))).toBeGreaterThanOrEqual(120);
    // A reader that accepts at most 60 s old answers does not get this 120 s old one (and stores a fresh one).
    expect(cacheOf(await ask(env, '/openai/v1/embeddings', body, { 'X-Switchyard-Cache-Ttl': '60' }))).toBe('MISS');
    expect(calls).toHaveLength(2);
    offset = 120_000 + 61_000;
    expect(cacheOf(await ask(env, '/openai/v1/embeddings', body, { 'X-Switchyard-Cache-Ttl': '600' }))).toBe('MISS');
    expect(calls).toHaveLength(3);
  });
});

describe('the vault model default cacheTtl', () => {
  const config = () => {
    const config = testConfig();
    const models = config.providers.openai!.models as { id: string; cacheTtl?: number }[];
    models.find((m) => m.id === 'text-embedding-3-small')!.cacheTtl = 3600;
    return config;
  };

  it('caches that model without a header, on the proxy and the unified route; a header overrides it', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv({ config: config() });
    for (const path of ['/openai/v1/embeddings', '/v1/embeddings']) {
      const body = { model: 'text-embedding-3-small', input: nonce() };
      expect(cacheOf(await ask(env, path, body))).toBe('MISS');
      expect(cacheOf(await ask(env, path, body))).toBe('HIT');
      expect(cacheOf(await ask(env, path, body, { 'X-Switchyard-Cache-Ttl': '0' }))).toBe('BYPASS');
    }
    expect(calls).toHaveLength(4);
    // Other models keep no default.
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', chat('llama-3.3-70b-versatile')))).toBe('BYPASS');
  });

  it('a cacheTtl outside 0..86400 is refused by the vault schema', async () => {
    const bad = config();
    (bad.providers.openai!.models as { cacheTtl?: number }[])[0]!.cacheTtl = 90_000;
    const res = await app.request(
      '/ai.json.enc',
      { method: 'PUT', headers: { authorization: 'Bearer test-vault-token' }, body: await sealVault(bad) },
      await makeEnv(),
    );
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('cacheTtl');
  });
});

describe('who shares an entry', () => {
  it('a user never gets another user’s cached answer', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv({ users: USERS });
    const body = chat('llama-3.3-70b-versatile');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL))).toBe('MISS');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL, OTHER_KEY))).toBe('MISS');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL, OTHER_KEY))).toBe('HIT');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL))).toBe('HIT');
    expect(calls).toHaveLength(2);
  });

  it('with CACHE_SCOPE=global every user shares the entries', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv({ users: USERS, vars: { CACHE_SCOPE: 'global' } });
    const body = chat('llama-3.3-70b-versatile');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL))).toBe('MISS');
    expect(cacheOf(await ask(env, '/groq/v1/chat/completions', body, TTL, OTHER_KEY))).toBe('HIT');
    expect(calls).toHaveLength(1);
  });

  it('the provider, the model, the query and the body bytes are all part of the key', async () => {
    const { calls } = mockUpstream(answer);
    const env = await makeEnv();
    const content = `hi ${nonce()}`;
    const asked = [
      ['/groq/v1/chat/completions', { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content }] }],
      ['/groq/v1/chat/completions', { model: 'openai/gpt-oss-120b', messages: [{ role: 'user', content }] }],
      ['/openai/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }],
      // The same JSON value with other bytes (a space) is another question.
      ['/groq/v1/chat/completions', { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content }], n: 1 }],
    ] as const;
    for (const [path, body] of asked) expect(cacheOf(await ask(env, path, body, TTL))).toBe('MISS');
    const gemini = { contents: [{ role: 'user', parts: [{ text: content }] }] };
    expect(cacheOf(await ask(env, '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', gemini, TTL))).toBe('MISS');
    expect(cacheOf(await ask(env, '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent', gemini, TTL))).toBe('MISS');
    expect(calls).toHaveLength(6);
  });
});

describe('browsers', () => {
  it('may read X-Switchyard-Cache', async () => {
    mockUpstream(answer);
    const env = await makeEnv();
    const { res } = await ask(env, '/groq/v1/chat/completions', chat('llama-3.3-70b-versatile'), { ...TTL, origin: 'https://app.example' });
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Switchyard-Cache');
  });
});
