import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { mockProviders } from '../helpers/stand-in';
import { testConfig } from '../helpers/vault';

afterEach(() => {
  vi.restoreAllMocks();
});

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('POST /:provider/v1/<operation>', () => {
  it('forwards to the vault provider and hands back its answer', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request('/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'chat.completion', model: 'llama-3.3-70b-versatile' });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST https://api.groq.com/openai/v1/chat/completions']);
  });

  it.each([
    ['sambanova-ai', 'https://api.sambanova.ai/v1/chat/completions', 'Meta-Llama-3.3-70B-Instruct'],
    ['SambaNova-AI', 'https://api.sambanova.ai/v1/chat/completions', 'Meta-Llama-3.3-70B-Instruct'],
    ['GROQ', 'https://api.groq.com/openai/v1/chat/completions', 'llama-3.3-70b-versatile'],
    ['Groq', 'https://api.groq.com/openai/v1/chat/completions', 'llama-3.3-70b-versatile'],
    ['OpenAI', 'https://api.openai.com/v1/chat/completions', 'gpt-4o-mini'],
  ])('/%s/v1/chat/completions goes to %s', async (name, url, model) => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request(`/${name}/v1/chat/completions`, postJson(chat(model)), env);
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.url)).toEqual([url]);
  });

  it('reduces a vault endpoint given as a full operation URL to its base', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request('/mistral/v1/chat/completions', postJson(chat('mistral-small-latest')), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://api.mistral.ai/v1/chat/completions');
  });

  it('serves a provider the provider table does not know, from its vault entry alone', async () => {
    const { calls } = mockProviders();
    const config = testConfig();
    config.providers['local-llm'] = {
      protocol: 'openai',
      endpoint: 'http://127.0.0.1:8080/v1/',
      keys: [{ key: 'local-key-1' }],
      models: [{ id: 'qwen2.5-7b' }],
    };
    const env = await makeEnv({ config });
    const res = await app.request('/local-llm/v1/chat/completions', postJson(chat('qwen2.5-7b')), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('http://127.0.0.1:8080/v1/chat/completions');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer local-key-1');
  });

  it.each([
    ['a provider nobody knows', '/nope/v1/chat/completions', 'unknown provider "nope"'],
    ['a table provider the vault does not name', '/openrouter/v1/chat/completions', 'unknown provider "openrouter"'],
  ])('%s is a 404 naming it, with no upstream call', async (_, path, message) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request(path, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(404);
    const body = await res.json<{ error: { message: string; type: string; code: string } }>();
    expect(body.error).toMatchObject({ type: 'not_found_error', code: 'provider_not_found' });
    expect(body.error.message).toContain(message);
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['chat', '/groq/v1/chat/completions', chat('llama-9-imaginary'), 'model "llama-9-imaginary" is not offered by provider "groq"'],
    ['chat via an alias', '/sambanova-ai/v1/chat/completions', chat('gpt-4o-mini'), 'model "gpt-4o-mini" is not offered by provider "sambanova"'],
    ['embeddings', '/openai/v1/embeddings', { model: 'text-embedding-9', input: 'hi' }, 'model "text-embedding-9" is not offered by provider "openai"'],
    ['legacy completions', '/openai/v1/completions', { model: 'davinci-002', prompt: 'hi' }, 'model "davinci-002" is not offered by provider "openai"'],
    ['Anthropic messages', '/anthropic/v1/messages', { ...chat('claude-2'), max_tokens: 10 }, 'model "claude-2" is not offered by provider "anthropic"'],
    ['Gemini native', '/gemini/v1beta/models/gemini-1.0-pro:generateContent', { contents: [] }, 'model "gemini-1.0-pro" is not offered by provider "gemini"'],
  ])('a %s model the vault does not list is a 404 naming model and provider, with no upstream call', async (_, path, body, message) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request(path, postJson(body), env);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message, type: 'not_found_error', code: 'model_not_found' } });
    expect(calls).toHaveLength(0);
  });

  it('other operations (images, speech, moderation) are not held to the vault model list', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request('/openai/v1/images/generations', postJson({ model: 'gpt-image-1', prompt: 'a fox' }), env);
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['an empty body', ''],
    ['a body that is not JSON', '{"model": "llama-3.3-70b-versatile", '],
    ['a JSON array', '[]'],
    ['no model', JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })],
    ['no messages', JSON.stringify({ model: 'llama-3.3-70b-versatile' })],
    ['empty messages', JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [] })],
  ])('%s is a 400 that says what is wrong, with no upstream call', async (_, body) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(), body }, env);
    expect(res.status).toBe(400);
    const json = await res.json<{ error: { message: string; type: string } }>();
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message.length).toBeGreaterThan(10);
    expect(calls).toHaveLength(0);
  });

  it('names the missing field', async () => {
    forbidUpstream();
    const env = await makeEnv();
    const res = await app.request('/groq/v1/chat/completions', postJson({ model: 'llama-3.3-70b-versatile' }), env);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('messages');
  });

  it.each([
    ['/groq/v1/chat//completions', 400, 'invalid_path'],
    ['/groq/v1/chat/completions%3Fx=1', 400, 'invalid_path'],
    ['/groq/v1/chat/completions/..%2F..%2Fadmin', 400, 'invalid_path'],
    // The URL parser itself resolves %2e%2e segments: /groq/admin is no route.
    ['/groq/v1/chat/%2e%2e/%2e%2e/admin', 404, 'route_not_found'],
  ])('an operation path with escapes or empty segments (%s) is refused without an upstream call', async (path, status, code) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request(path, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error: { code } });
    expect(calls).toHaveLength(0);
  });

  it('keeps the allow-listed query parameters only', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    await app.request('/groq/v1/chat/completions?trace=on&api-version=2024-10-21&x=a%20b', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(calls[0]!.url).toBe('https://api.groq.com/openai/v1/chat/completions?api-version=2024-10-21');
  });

  it('GET on an operation is not an operation the gateway forwards', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request('/groq/v1/chat/completions', { headers: userHeaders() }, env);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'not_found_error', code: 'operation_not_supported' } });
    expect(calls).toHaveLength(0);
  });
});

describe('legacy X-Host-Final', () => {
  const legacy = (host: string, extra: Record<string, string> = {}) => userHeaders(undefined, { 'x-host-final': host, ...extra });

  it.each([
    ['api.groq.com', '/openai/v1/chat/completions', chat('llama-3.3-70b-versatile'), 'https://api.groq.com/openai/v1/chat/completions'],
    ['api.groq.com', '/v1/chat/completions', chat('llama-3.3-70b-versatile'), 'https://api.groq.com/openai/v1/chat/completions'],
    ['api.sambanova.ai', '/v1/chat/completions', chat('Meta-Llama-3.3-70B-Instruct'), 'https://api.sambanova.ai/v1/chat/completions'],
    ['api.openai.com', '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }, 'https://api.openai.com/v1/embeddings'],
    ['api.anthropic.com', '/v1/messages', { ...chat('claude-sonnet-4-5'), max_tokens: 64 }, 'https://api.anthropic.com/v1/messages'],
    [
      'generativelanguage.googleapis.com',
      '/v1beta/models/gemini-2.0-flash:generateContent',
      { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent',
    ],
    ['api.mistral.ai', '/v1/chat/completions', chat('mistral-small-latest'), 'https://api.mistral.ai/v1/chat/completions'],
    ['https://API.Groq.com/', '/openai/v1/chat/completions', chat('llama-3.3-70b-versatile'), 'https://api.groq.com/openai/v1/chat/completions'],
    ['api.groq.com:443', '/openai/v1/chat/completions', chat('llama-3.3-70b-versatile'), 'https://api.groq.com/openai/v1/chat/completions'],
  ])('X-Host-Final: %s with %s goes to %s', async (host, path, body, url) => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request(path, postJson(body, legacy(host)), env);
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.url)).toEqual([url]);
    expect(calls[0]!.headers.has('x-host-final')).toBe(false);
  });

  it("sends the provider's own auth, never the client's", async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    await app.request('/v1/messages', postJson({ ...chat('claude-sonnet-4-5'), max_tokens: 64 }, legacy('api.anthropic.com')), env);
    expect(calls[0]!.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(calls[0]!.headers.has('authorization')).toBe(false);
  });

  it.each(['evil.example.com', 'api.groq.com.evil.example', '127.0.0.1', 'localhost', 'gateway.ai.cloudflare.com', ''])(
    'a host outside the table (%s) is a 400 and nothing is sent anywhere',
    async (host) => {
      const { calls } = forbidUpstream();
      const env = await makeEnv();
      const res = await app.request('/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile'), legacy(host)), env);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'unknown_host' } });
      expect(calls).toHaveLength(0);
    },
  );

  it('a table host whose provider the vault does not name is a 404 with no upstream call', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request('/api/v1/chat/completions', postJson(chat('x'), legacy('openrouter.ai')), env);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'provider_not_found' } });
    expect(calls).toHaveLength(0);
  });

  it('needs a user key like every other user route', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request(
      '/openai/v1/chat/completions',
      {
        method: 'POST',
        headers: { 'x-host-final': 'api.groq.com', 'content-type': 'application/json' },
        body: JSON.stringify(chat('llama-3.3-70b-versatile')),
      },
      env,
    );
    expect(res.status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it('a legacy path that names no operation is a 400', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request('/', postJson(chat('llama-3.3-70b-versatile'), legacy('api.groq.com')), env);
    expect(res.status).toBe(400);
    expect(calls).toHaveLength(0);
  });
});

describe('odd names and paths', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('/%s/v1/chat/completions is an unknown provider, not a crash', async (name) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const res = await app.request(`/${name}/v1/chat/completions`, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(404);
    expect(calls).toHaveLength(0);
  });

  it('a percent-encoded provider name still forwards the right operation', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request('/gr%6Fq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.url)).toEqual(['https://api.groq.com/openai/v1/chat/completions']);
  });

  it("a client's ?key= credential (Gemini style) is not forwarded; the rest of the query is", async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await app.request(
      '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?key=client-secret-key&alt=sse',
      postJson({ contents: [{ parts: [{ text: 'hi' }] }] }),
      env,
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });
});
