import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { GATEWAY_COMPAT, keysOf, testConfig } from '../helpers/vault';
import { fixtureErrors, forgetKeyRests, mockFixtures } from './answers';

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** testConfig plus `shared-model`, listed by anthropic (priority 1), gemini (2) and openai (3). */
function sharedConfig() {
  const config = testConfig();
  const add = (id: string, priority: number) => (config.providers[id]!.models as unknown[]).push({ id: 'shared-model', usage: 'chat', priority });
  add('openai', 3);
  add('anthropic', 1);
  add('gemini', 2);
  return config;
}

describe('model resolution', () => {
  it('`provider/model` picks that provider and passes the request through with the bare model id', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const body = chat('groq/llama-3.3-70b-versatile', { temperature: 0.2, logit_bias: { '50256': -100 } });
    const res = await app.request('/v1/chat/completions', postJson(body), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('groq');
    expect(calls.map((c) => c.url)).toEqual(['https://api.groq.com/openai/v1/chat/completions']);
    expect(calls[0]!.json()).toEqual({ ...body, model: 'llama-3.3-70b-versatile' });
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
  });

  it('an id whose prefix is a provider not listing it is looked up whole (groq lists openai/gpt-oss-120b)', async () => {
    const { calls } = mockFixtures();
    const res = await app.request('/v1/chat/completions', postJson(chat('openai/gpt-oss-120b')), await makeEnv());
    expect(res.headers.get('x-switchyard-provider')).toBe('groq');
    expect(calls[0]!.json().model).toBe('openai/gpt-oss-120b');
  });

  it('a bare id picks every provider listing it, lower priority first', async () => {
    const { calls } = mockFixtures();
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config: sharedConfig() }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('anthropic');
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['api.anthropic.com']);
  });

  it('refuses an unknown model (404), a model outside the allow-lists (403), and one without usable key (503)', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ users: { tester: { key: USER_KEY, models: ['groq/*'] } } });
    const unknown = await app.request('/v1/chat/completions', postJson(chat('no-such-model')), env);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'not_found_error', code: 'model_not_found' } });
    const denied = await app.request('/v1/chat/completions', postJson(chat('openai/gpt-4o-mini')), env);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: { code: 'model_not_allowed' } });
    const config = testConfig();
    (config.providers.openai!.keys as { type: string }[])[0]!.type = 'expired';
    const keyless = await app.request('/v1/chat/completions', postJson(chat('openai/gpt-4o-mini')), await makeEnv({ config }));
    expect(keyless.status).toBe(503);
    expect(calls).toEqual([]);
  });

  it('keeps only the providers the user may use in the chain', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv({ config: sharedConfig(), users: { tester: { key: USER_KEY, providers: ['openai'] } } });
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), env);
    expect(res.headers.get('x-switchyard-provider')).toBe('openai');
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['api.openai.com']);
  });

  it('checks the body before any upstream call: a 400 in the OpenAI shape', async () => {
    const { calls } = forbidUpstream();
    const res = await app.request('/v1/chat/completions', postJson({ model: 'groq/llama-3.3-70b-versatile' }), await makeEnv());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('messages') } });
    expect(calls).toEqual([]);
  });
});

describe('fallback chain', () => {
  it('moves on after a retryable upstream status, and the answer names the provider and model that answered', async () => {
    const { calls } = mockFixtures((call) => (call.url.includes('anthropic') ? fixtureErrors.anthropic429() : undefined));
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config: sharedConfig() }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['api.anthropic.com', 'generativelanguage.googleapis.com']);
    expect(await res.json()).toMatchObject({ model: 'gemini-2.5-flash', choices: [{ message: { content: 'Hello! How can I help you today?' } }] });
  });

  it('moves on when a provider cannot be reached (forward throws 502)', async () => {
    const { calls } = mockFixtures((call) => {
      if (call.url.includes('anthropic') || call.url.includes('googleapis')) throw new TypeError('connection refused');
      return undefined;
    });
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config: sharedConfig() }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('openai');
    expect(calls).toHaveLength(3);
  });

  it('stops at a non-retryable answer: the client gets it, in its own dialect', async () => {
    const { calls } = mockFixtures((call) => (call.url.includes('googleapis') ? fixtureErrors.gemini400() : undefined));
    const config = sharedConfig();
    (config.providers.anthropic!.models as { id: string }[]).splice(-1);
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config }));
    expect(res.status).toBe(400);
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(await res.json()).toEqual({
      error: { message: 'gemini: API key not valid. Please pass a valid API key.', type: 'invalid_request_error', code: 'bad_request' },
    });
    expect(calls).toHaveLength(1);
  });

  it('when every candidate fails, the last failure is the answer', async () => {
    const { calls } = mockFixtures(() => fixtureErrors.openai401());
    const config = sharedConfig();
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config }));
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['api.anthropic.com', 'generativelanguage.googleapis.com', 'api.openai.com']);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-switchyard-provider')).toBe('openai');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_api_key' } });
    for (const key of keysOf(config)) expect(text).not.toContain(key);
  });
});

describe('AI Gateway unified endpoint', () => {
  const vars = { CLOUDFLARE_AIG_TOKEN: 'aig-token-1', CLOUDFLARE_ACCOUNT_ID: 'acc123' };
  const gatewayConfig = () => {
    const config = testConfig();
    for (const id of ['anthropic', 'groq']) config.providers[id]!.gatewayEndpoint = GATEWAY_COMPAT;
    return config;
  };

  it('an OpenAI client reaches an Anthropic model through compat without translation', async () => {
    const { calls } = mockFixtures();
    const body = chat('anthropic/claude-sonnet-4-5', { stream: true });
    const res = await app.request('/v1/chat/completions', postJson(body), await makeEnv({ config: gatewayConfig(), vars }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data: [DONE]');
    expect(calls[0]!.url).toBe('https://gateway.ai.cloudflare.com/v1/acc123/default/compat/chat/completions');
    // The gateway asks for the stream's usage (metering) when the client did not.
    expect(calls[0]!.json()).toEqual({ ...body, model: 'anthropic/claude-sonnet-4-5', stream_options: { include_usage: true } });
    expect(calls[0]!.headers.get('cf-aig-authorization')).toBe('Bearer aig-token-1');
  });

  it('an Anthropic client reaches a Groq model through compat, translated to OpenAI chat once', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/messages',
      postJson(
        { model: 'groq/llama-3.3-70b-versatile', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
        { 'x-api-key': USER_KEY, 'content-type': 'application/json' },
      ),
      await makeEnv({ config: gatewayConfig(), vars }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Hello! How can I help you today?' }] });
    expect(calls[0]!.url).toBe('https://gateway.ai.cloudflare.com/v1/acc123/default/compat/chat/completions');
    expect(calls[0]!.json()).toEqual({ model: 'groq/llama-3.3-70b-versatile', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('an Anthropic client reaches an Anthropic model natively (the gateway provider-native path)', async () => {
    const { calls } = mockFixtures();
    const body = { model: 'anthropic/claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
    const res = await app.request(
      '/v1/messages',
      postJson(body, userHeaders(USER_KEY, { 'anthropic-beta': 'tools-2024-05-16' })),
      await makeEnv({ config: gatewayConfig(), vars }),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://gateway.ai.cloudflare.com/v1/acc123/default/anthropic/v1/messages');
    expect(calls[0]!.json()).toEqual({ ...body, model: 'claude-sonnet-4-5' });
    expect(calls[0]!.headers.get('anthropic-beta')).toBe('tools-2024-05-16');
  });
});

describe('GET /v1/models', () => {
  it('lists every usable model as provider/model with its limits, filtered by the allow-lists', async () => {
    forbidUpstream();
    const config = testConfig();
    (config.providers.sambanova!.keys as { type: string }[])[0]!.type = 'expired';
    const res = await app.request('/v1/models', { headers: userHeaders() }, await makeEnv({ config }));
    const { object, data } = (await res.json()) as { object: string; data: { id: string }[] };
    expect(object).toBe('list');
    expect(data.map((m) => m.id)).toContain('groq/llama-3.3-70b-versatile');
    expect(data.map((m) => m.id)).toContain('gemini/text-embedding-004');
    expect(data.some((m) => m.id.startsWith('sambanova/'))).toBe(false);
    expect(data.find((m) => m.id === 'anthropic/claude-sonnet-4-5')).toEqual({
      id: 'anthropic/claude-sonnet-4-5',
      object: 'model',
      created: 0,
      owned_by: 'anthropic',
      context_window: 200000,
      context_length: 200000,
      max_completion_tokens: 64000,
      usage: 'chat',
    });

    const limited = await makeEnv({ users: { tester: { key: USER_KEY, providers: ['groq', 'gemini'], models: ['groq/llama-*', 'gemini/*'] } } });
    const ids = ((await (await app.request('/v1/models', { headers: userHeaders() }, limited)).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).toEqual(['groq/llama-3.3-70b-versatile', 'gemini/gemini-2.0-flash', 'gemini/text-embedding-004']);
    const one = await app.request('/v1/models/gemini/gemini-2.0-flash', { headers: userHeaders() }, limited);
    expect(await one.json()).toMatchObject({ id: 'gemini/gemini-2.0-flash', context_window: 1048576, max_completion_tokens: 8192 });
    expect((await app.request('/v1/models/openai/gpt-4o-mini', { headers: userHeaders() }, limited)).status).toBe(404);
  });

  it('needs a user key', async () => {
    expect((await app.request('/v1/models', {}, await makeEnv())).status).toBe(401);
  });
});
