import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { listIds, makeEnv, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { keysOf, testConfig } from '../helpers/vault';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const get = (path: string, env: Awaited<ReturnType<typeof makeEnv>>) => app.request(path, { headers: userHeaders() }, env);

function configWithDeadProviders() {
  const config = testConfig();
  config.providers.openrouter = {
    protocol: 'openai',
    endpoint: 'https://openrouter.ai/api/v1',
    keys: [
      { key: 'or-key-expired-type', type: 'expired' },
      { key: 'or-key-expired-date', type: 'paid', expiresAt: '2020-01-01T00:00:00Z' },
    ],
    models: [{ id: 'meta-llama/llama-3.3-70b-instruct' }],
  };
  config.providers.morph = { protocol: 'openai', endpoint: 'https://api.morphllm.com/v1', keys: [], models: [] };
  return config;
}

describe('GET /v1/providers', () => {
  it('lists the providers with at least one usable key, in the contract shape, without calling upstream', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWithDeadProviders() });
    const res = await get('/v1/providers', env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [
        { id: 'groq', object: 'provider', protocol: 'openai' },
        { id: 'sambanova', object: 'provider', protocol: 'openai' },
        { id: 'openai', object: 'provider', protocol: 'openai' },
        { id: 'anthropic', object: 'provider', protocol: 'anthropic' },
        { id: 'gemini', object: 'provider', protocol: 'gemini' },
        { id: 'mistral', object: 'provider', protocol: 'openai' },
      ],
    });
    expect(calls).toHaveLength(0);
  });

  it('a provider drops out of the list when its last key passes its expiresAt', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T00:00:00Z'));
    const config = testConfig();
    config.providers.groq!.keys = [{ key: 'gsk-key-until-april', expiresAt: '2026-04-01T00:00:00Z' }];
    const env = await makeEnv({ config });
    expect(await listIds(get('/v1/providers', env))).toContain('groq');
    vi.setSystemTime(new Date('2026-04-01T00:00:00Z'));
    expect(await listIds(get('/v1/providers', env))).not.toContain('groq');
  });

  it('requires a user key', async () => {
    const env = await makeEnv();
    expect((await app.request('/v1/providers', {}, env)).status).toBe(401);
  });
});

describe('GET /:provider/v1/models', () => {
  it('lists the vault models in the OpenAI shape with the limits, preferred (lowest priority) first', async () => {
    const { calls } = forbidUpstream();
    const config = testConfig();
    config.providers.groq!.models = [
      { id: 'whisper-large-v3', usage: 'transcription' },
      { id: 'openai/gpt-oss-120b', usage: 'chat', contextWindow: 131072, maxOutputTokens: 65536, priority: 2 },
      { id: 'llama-3.3-70b-versatile', usage: 'chat', contextWindow: 131072, maxOutputTokens: 32768, priority: 1 },
    ];
    const env = await makeEnv({ config });
    const res = await get('/groq/v1/models', env);
    expect(res.status).toBe(200);
    const body = await res.json<{ object: string; data: Record<string, unknown>[] }>();
    expect(body.object).toBe('list');
    expect(body.data).toEqual([
      {
        id: 'llama-3.3-70b-versatile',
        object: 'model',
        created: 0,
        owned_by: 'groq',
        context_window: 131072,
        context_length: 131072,
        max_completion_tokens: 32768,
        usage: 'chat',
      },
      {
        id: 'openai/gpt-oss-120b',
        object: 'model',
        created: 0,
        owned_by: 'groq',
        context_window: 131072,
        context_length: 131072,
        max_completion_tokens: 65536,
        usage: 'chat',
      },
      {
        id: 'whisper-large-v3',
        object: 'model',
        created: 0,
        owned_by: 'groq',
        context_window: null,
        context_length: null,
        max_completion_tokens: null,
        usage: 'transcription',
      },
    ]);
    expect(calls).toHaveLength(0);
  });

  it('resolves aliases and case, and serves Gemini under v1beta', async () => {
    const env = await makeEnv();
    const samba = await (await get('/sambanova-ai/v1/models', env)).json<{ data: { id: string; owned_by: string }[] }>();
    expect(samba.data.map((m) => [m.id, m.owned_by])).toEqual([['Meta-Llama-3.3-70B-Instruct', 'sambanova']]);
    expect(await listIds(get('/Groq/v1/models', env))).toEqual(['llama-3.3-70b-versatile', 'openai/gpt-oss-120b', 'whisper-large-v3']);
    expect(await listIds(get('/gemini/v1beta/models', env))).toEqual(['gemini-2.0-flash', 'text-embedding-004']);
  });

  it('an unknown provider is a 404 naming it', async () => {
    const env = await makeEnv();
    const res = await get('/nope/v1/models', env);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: 'unknown provider "nope"', type: 'not_found_error', code: 'provider_not_found' } });
  });

  it('never shows a provider key', async () => {
    const env = await makeEnv();
    const config = testConfig();
    for (const provider of Object.keys(config.providers)) {
      const text = await (await get(`/${provider}/v1/models`, env)).text();
      for (const key of keysOf(config)) expect(text).not.toContain(key);
    }
    const providers = await (await get('/v1/providers', env)).text();
    for (const key of keysOf(config)) expect(providers).not.toContain(key);
  });
});

describe('GET /:provider/v1/models/:id', () => {
  it('answers one model in the contract shape', async () => {
    const env = await makeEnv();
    const res = await get('/anthropic/v1/models/claude-sonnet-4-5', env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: 'claude-sonnet-4-5',
      object: 'model',
      created: 0,
      owned_by: 'anthropic',
      context_window: 200000,
      context_length: 200000,
      max_completion_tokens: 64000,
      usage: 'chat',
    });
  });

  it('accepts model ids with a slash, plain or percent-encoded', async () => {
    const env = await makeEnv();
    for (const path of ['/groq/v1/models/openai/gpt-oss-120b', '/groq/v1/models/openai%2Fgpt-oss-120b']) {
      const res = await get(path, env);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: 'openai/gpt-oss-120b', owned_by: 'groq' });
    }
  });

  it('an unknown model is a 404 naming model and provider', async () => {
    const env = await makeEnv();
    const res = await get('/sambanova-ai/v1/models/gpt-4o', env);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'model "gpt-4o" is not offered by provider "sambanova"', type: 'not_found_error', code: 'model_not_found' },
    });
  });
});

describe('model ids with unusual characters', () => {
  it('a model id containing % is looked up as written, not decoded twice', async () => {
    const config = testConfig();
    config.providers.groq!.models = [{ id: 'promo-50%-off' }, { id: 'a%2Fb' }];
    const env = await makeEnv({ config });
    const promo = await get('/groq/v1/models/promo-50%25-off', env);
    expect(promo.status).toBe(200);
    expect(await promo.json()).toMatchObject({ id: 'promo-50%-off' });
    const literal = await get('/groq/v1/models/a%252Fb', env);
    expect(literal.status).toBe(200);
    expect(await literal.json()).toMatchObject({ id: 'a%2Fb' });
  });
});
