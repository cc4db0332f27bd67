import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { MAX_REQUEST_BYTES } from '../../src/middleware/body-limit';
import { makeEnv, postJson, userHeaders } from './helpers/env';
import { faultyUpstream } from './helpers/upstreams';

// Hostile input: oversized and malformed bodies, path tricks, header smuggling. Whatever comes in,
// the answer is the JSON error shape and nothing goes to a host or path the vault does not name.

afterEach(() => vi.restoreAllMocks());

const VAULT_BASES = [
  'https://api.groq.com/openai/v1/',
  'https://api.sambanova.ai/v1/',
  'https://api.openai.com/v1/',
  'https://api.anthropic.com/v1/',
  'https://generativelanguage.googleapis.com/v1beta/',
  'https://api.mistral.ai/v1/',
];
const CHAT = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] };

async function expectErrorShape(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = await res.json<{ error: Record<string, unknown> }>();
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.type).toBe('string');
  expect(typeof body.error.code).toBe('string');
  return body.error;
}

describe('bodies', () => {
  it('refuses a body over the size limit with 413 before any upstream call', async () => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({}));
    const big = new Uint8Array(MAX_REQUEST_BYTES + 1).fill(0x20);
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(), body: big }, env);
    await expectErrorShape(res, 413);
    expect(calls).toHaveLength(0);
  }, 30_000); // a body of MAX_REQUEST_BYTES takes seconds on a loaded machine

  it.each([
    ['{"model":', 'invalid_json', /not valid JSON/],
    ['[1,2]', 'invalid_body', /JSON object/],
    ['{"messages":[{"role":"user","content":"hi"}]}', 'invalid_body', /"model"/],
    ['{"model":"llama-3.3-70b-versatile"}', 'invalid_body', /"messages"/],
    ['{"model":"llama-3.3-70b-versatile","messages":[]}', 'invalid_body', /"messages"/],
    ['{"model":42,"messages":[{"role":"user","content":"hi"}]}', 'invalid_body', /model/],
    ['', 'invalid_body', /empty/],
  ])('answers 400 naming the problem for %j', async (body, code, message) => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({}));
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(), body }, env);
    const error = await expectErrorShape(res, 400);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(calls).toHaveLength(0);
  });
});

describe('paths', () => {
  const tricks = [
    '/groq/v1/../../evil.example/v1/chat/completions',
    '/groq/v1/%2e%2e/%2e%2e/chat/completions',
    '/groq/v1/chat%2Fcompletions',
    '/groq/v1/chat%2fcompletions/..%2f..%2fadmin',
    '/groq/v1//chat/completions',
    '/groq/v1/chat//completions',
    '/groq/v1/chat/completions/',
    '/groq/v1/chat/completions%00',
    '/groq/v1/chat/completions%0d%0aHost:%20evil',
    '/groq/v1/.%2e/chat/completions',
    '/groq/v1/\\..\\chat/completions',
    '/gr%D0%BEq/v1/chat/completions',
    '/%67roq/v1/chat/completions',
    '/groq%2f..%2fopenai/v1/chat/completions',
    '/groq.evil.example/v1/chat/completions',
    '/@evil.example/v1/chat/completions',
    '/http:%2F%2Fevil.example/v1/chat/completions',
    '/constructor/v1/chat/completions',
    '/__proto__/v1/chat/completions',
    '/groq/v1/models/x:generateContent%3F',
    '/gemini/v1beta/models/gemini-2.0-flash:generateContent/../../../x',
    '/GROQ/v1/chat/completions',
    '/Groq/v1/chat/completions',
  ];

  it.each(tricks)('%s reaches nothing outside the vault', async (path) => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({ id: 'x', object: 'chat.completion', choices: [] }));
    const res = await app.request(path, postJson(CHAT), env);
    if (res.status >= 400) await expectErrorShape(res, res.status);
    // Whatever got through is the one operation the client could name: chat completions at a vault base.
    for (const call of calls) expect(VAULT_BASES.map((base) => `${base}chat/completions`)).toContain(call.url);
  });

  it('resolves a provider name in any case to the vault entry, and nothing else', async () => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({ id: 'x', object: 'chat.completion', choices: [] }));
    expect((await app.request('/GROQ/v1/chat/completions', postJson(CHAT), env)).status).toBe(200);
    expect((await app.request('/%67roq/v1/chat/completions', postJson(CHAT), env)).status).toBe(200);
    expect(calls.map((c) => c.url)).toEqual(['https://api.groq.com/openai/v1/chat/completions', 'https://api.groq.com/openai/v1/chat/completions']);
    const lookalike = await app.request('/gr%D0%BEq/v1/chat/completions', postJson(CHAT), env);
    expect((await expectErrorShape(lookalike, 404)).code).toBe('provider_not_found');
  });

  it.each(['evil.example', 'api.groq.com.evil.example', 'evil.example/api.groq.com', 'api.groq.com@evil.example', 'xn--api-groq.com', 'api.groq.co', ''])(
    'X-Host-Final %j outside the host table is a 400, with no upstream call',
    async (host) => {
      const env = await makeEnv();
      const calls = faultyUpstream(() => Response.json({}));
      const res = await app.request('/openai/v1/chat/completions', postJson(CHAT, userHeaders(undefined, { 'x-host-final': host })), env);
      await expectErrorShape(res, 400);
      expect(calls).toHaveLength(0);
    },
  );

  it.each(['api.groq.com', 'API.GROQ.COM', 'https://api.groq.com/', 'api.groq.com:443'])('X-Host-Final %j goes to the vault endpoint of groq', async (host) => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({ id: 'x', object: 'chat.completion', choices: [] }));
    const res = await app.request('/openai/v1/chat/completions', postJson(CHAT, userHeaders(undefined, { 'x-host-final': host })), env);
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.url)).toEqual(['https://api.groq.com/openai/v1/chat/completions']);
  });
});

describe('headers', () => {
  it("never forwards the client's credentials, cookies, cf-*, x-forwarded-*, host or client-address headers", async () => {
    const env = await makeEnv();
    const calls = faultyUpstream(() => Response.json({ id: 'msg', type: 'message', content: [] }));
    const hostile = {
      cookie: 'session=abc',
      'cf-connecting-ip': '203.0.113.9',
      'cf-ray': '8f00',
      'cf-aig-authorization': 'Bearer client-supplied',
      'cf-access-jwt-assertion': 'jwt',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'http',
      'x-real-ip': '10.0.0.2',
      forwarded: 'for=10.0.0.3',
      'true-client-ip': '10.0.0.4',
      'x-api-key': 'client-x-api-key',
      'x-goog-api-key': 'client-goog-key',
      'proxy-authorization': 'Basic abc',
      origin: 'https://evil.example',
      referer: 'https://evil.example/page',
      'anthropic-beta': 'prompt-caching-2024-07-31',
    };
    const res = await app.request(
      '/anthropic/v1/messages',
      postJson({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, userHeaders(undefined, hostile)),
      env,
    );
    expect(res.status).toBe(200);
    const sent = calls[0]!.headers;
    for (const name of Object.keys(hostile).filter((n) => n !== 'anthropic-beta')) {
      if (name === 'x-api-key') continue;
      expect(sent.has(name), name).toBe(false);
    }
    expect(sent.has('authorization')).toBe(false);
    expect(sent.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(sent.get('anthropic-beta')).toBe('prompt-caching-2024-07-31');
    expect(calls[0]!.url).toBe('https://api.anthropic.com/v1/messages');
  });

  it('drops hop-by-hop and cookie headers from the upstream answer', async () => {
    const env = await makeEnv();
    faultyUpstream(() =>
      Response.json({ id: 'x' }, { headers: { 'set-cookie': 'provider=1', connection: 'close', 'keep-alive': 'timeout=5', 'x-request-id': 'req_1' } }),
    );
    const res = await app.request('/groq/v1/chat/completions', postJson(CHAT), env);
    expect(res.headers.has('set-cookie')).toBe(false);
    expect(res.headers.has('keep-alive')).toBe(false);
    expect(res.headers.get('x-request-id')).not.toBeNull();
  });
});
