import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { USERS_CACHE_MS } from '../../src/users/store';
import { listIds, makeEnv, postJson, USER_KEY, userHeaders } from './helpers/env';
import { forbidUpstream, mockUpstream } from './helpers/fetch';
import { testConfig } from './helpers/vault';
import { jsonResponse, openaiChatCompletion } from './helpers/wire';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });
const AGE_KEY = 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS3QUN9';

function okUpstream() {
  return mockUpstream((call) => jsonResponse(openaiChatCompletion(call.json().model)));
}

describe('bearer auth against the users map in KV', () => {
  it('no credential is a 401 in the error shape, with a WWW-Authenticate challenge', async () => {
    const env = await makeEnv();
    const res = await app.request('/v1/providers', {}, env);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.json()).toEqual({
      error: {
        message: 'missing credential: send "Authorization: Bearer <your gateway key>", "x-api-key: <your gateway key>" or "x-goog-api-key: <your gateway key>"',
        type: 'authentication_error',
        code: 'invalid_api_key',
      },
    });
  });

  it.each([
    ['an unknown key', `Bearer sy-nobody`],
    ['a key one character off', `Bearer ${USER_KEY.slice(0, -1)}X`],
    ['a prefix of a key', `Bearer ${USER_KEY.slice(0, 10)}`],
    ['the key with a suffix', `Bearer ${USER_KEY}0`],
    ['the vault token', 'Bearer test-vault-token'],
    ['a non-bearer scheme', `Basic ${btoa(`tester:${USER_KEY}`)}`],
    ['a token with characters bearer tokens cannot hold', 'Bearer sy user key'],
  ])('%s is a 401', async (_, authorization) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    for (const [path, init] of [
      ['/v1/providers', { headers: { authorization } }],
      ['/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile'), { authorization, 'content-type': 'application/json' })],
    ] as const) {
      const res = await app.request(path, init, env);
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(JSON.parse(body).error.type).toBe('authentication_error');
      expect(body).not.toContain(USER_KEY);
    }
    expect(calls).toHaveLength(0);
  });

  it('accepts a known key (scheme case-insensitive), including real age-style keys', async () => {
    const env = await makeEnv({ users: { tester: { key: USER_KEY }, ronan: { key: AGE_KEY } } });
    expect((await app.request('/v1/providers', { headers: { authorization: `bearer ${USER_KEY}` } }, env)).status).toBe(200);
    expect((await app.request('/v1/providers', { headers: { authorization: `Bearer ${AGE_KEY}` } }, env)).status).toBe(200);
  });

  it('a disabled user is refused with 403, even with a valid key', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, disabled: true } } });
    for (const [path, init] of [
      ['/v1/providers', { headers: userHeaders() }],
      ['/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile'))],
    ] as const) {
      const res = await app.request(path, init, env);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({
        error: { message: 'user "audrey" is disabled', type: 'permission_error', code: 'user_disabled' },
      });
    }
    expect(calls).toHaveLength(0);
  });

  it('disabled: false is an ordinary user', async () => {
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, disabled: false } } });
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(200);
  });

  it('an expired user is refused with 403; a user expiring later is served until then', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T00:00:00Z'));
    const env = await makeEnv({
      users: {
        old: { key: 'sy-old-user-key', expiresAt: '2026-01-01T00:00:00Z' },
        soon: { key: 'sy-soon-user-key', expiresAt: '2026-06-01T01:00:00Z' },
      },
    });
    const get = (key: string) => app.request('/v1/providers', { headers: userHeaders(key) }, env);
    const old = await get('sy-old-user-key');
    expect(old.status).toBe(403);
    expect(await old.json()).toMatchObject({ error: { code: 'user_expired', message: expect.stringContaining('2026-01-01T00:00:00Z') } });
    expect((await get('sy-soon-user-key')).status).toBe(200);

    vi.setSystemTime(new Date('2026-06-01T01:00:00Z'));
    expect((await get('sy-soon-user-key')).status).toBe(403);
  });
});

describe('the users map is re-read after its cache window', () => {
  it('a user added or removed in KV takes effect after USERS_CACHE_MS', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const env = await makeEnv();
    const get = async (key: string) => (await app.request('/v1/providers', { headers: userHeaders(key) }, env)).status;
    expect(await get(USER_KEY)).toBe(200);
    expect(await get('sy-new-user-key')).toBe(401);

    await env.KV_AI_PROXY.put('users', JSON.stringify({ newcomer: { key: 'sy-new-user-key' } }));
    vi.setSystemTime(Date.now() + USERS_CACHE_MS + 1);
    expect(await get('sy-new-user-key')).toBe(200);
    expect(await get(USER_KEY)).toBe(401);
  });

  it('a key found once is found again without hashing, until the map changes; a wrong key is hashed every time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const env = await makeEnv();
    const get = async (key: string) => (await app.request('/v1/providers', { headers: userHeaders(key) }, env)).status;
    expect(await get(USER_KEY)).toBe(200);
    const digest = vi.spyOn(crypto.subtle, 'digest');
    const hashed = (key: string) => digest.mock.calls.filter(([, data]) => new TextDecoder().decode(data as Uint8Array) === key).length;
    expect(await get(USER_KEY)).toBe(200);
    expect(hashed(USER_KEY)).toBe(0);
    expect(await get('sy-wrong-key')).toBe(401);
    expect(await get('sy-wrong-key')).toBe(401);
    expect(hashed('sy-wrong-key')).toBe(2);

    // The same map read again after the window keeps what was found; a changed one starts over.
    vi.setSystemTime(Date.now() + USERS_CACHE_MS + 1);
    expect(await get(USER_KEY)).toBe(200);
    expect(hashed(USER_KEY)).toBe(0);
    await env.KV_AI_PROXY.put('users', JSON.stringify({ tester: { key: USER_KEY, rpm: 5 } }));
    vi.setSystemTime(Date.now() + USERS_CACHE_MS + 1);
    expect(await get(USER_KEY)).toBe(200);
    expect(hashed(USER_KEY)).toBeGreaterThan(0);
  });

  it('an invalid users map is a 500 that names the problem and no key', async () => {
    const env = await makeEnv({ users: { tester: { key: USER_KEY }, broken: { rpm: 3 } } });
    const res = await app.request('/v1/providers', { headers: userHeaders() }, env);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body).error.message).toMatch(/users map in KV is invalid: broken\.key/);
    expect(body).not.toContain(USER_KEY);
  });
});

describe('DEV_USERS_JSON (local dev users.json) is the fallback only while KV has no users', () => {
  const devUsers = JSON.stringify({ dev: { key: 'sy-dev-user-key' } });

  it('serves the dev users when KV has no `users`', async () => {
    const env = await makeEnv({ users: null, vars: { DEV_USERS_JSON: devUsers } });
    expect((await app.request('/v1/providers', { headers: userHeaders('sy-dev-user-key') }, env)).status).toBe(200);
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(401);
  });

  it('ignores the dev users once KV has a users map', async () => {
    const env = await makeEnv({ vars: { DEV_USERS_JSON: devUsers } });
    expect((await app.request('/v1/providers', { headers: userHeaders('sy-dev-user-key') }, env)).status).toBe(401);
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(200);
  });

  it('without KV users and without DEV_USERS_JSON nobody gets in', async () => {
    const env = await makeEnv({ users: null });
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(401);
  });
});

describe('allow-lists', () => {
  it('providers: listing shows only allowed providers; a call to another is a 403 with no upstream call', async () => {
    const { calls } = okUpstream();
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, providers: ['groq', 'Gemini'] } } });
    expect(await listIds(app.request('/v1/providers', { headers: userHeaders() }, env))).toEqual(['groq', 'gemini']);

    const denied = await app.request('/openai/v1/chat/completions', postJson(chat('gpt-4o-mini')), env);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      error: { message: 'user "audrey" may not use provider "openai"', type: 'permission_error', code: 'provider_not_allowed' },
    });
    expect(calls).toHaveLength(0);

    expect((await app.request('/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env)).status).toBe(200);
    expect(calls).toHaveLength(1);
    expect((await app.request('/openai/v1/models', { headers: userHeaders() }, env)).status).toBe(404);
  });

  it('the provider allow-list applies to aliases too (sambanova-ai is sambanova)', async () => {
    const { calls } = okUpstream();
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, providers: ['groq'] } } });
    const res = await app.request('/sambanova-ai/v1/chat/completions', postJson(chat('Meta-Llama-3.3-70B-Instruct')), env);
    expect(res.status).toBe(403);
    expect(calls).toHaveLength(0);
  });

  it('models: provider/model, bare ids and trailing * patterns; anything else is a 403 naming the model', async () => {
    const { calls } = okUpstream();
    const env = await makeEnv({
      users: { audrey: { key: USER_KEY, models: ['groq/llama-3.3-70b-versatile', 'gpt-4o-mini', 'anthropic/*'] } },
    });
    const post = (provider: string, model: string) => app.request(`/${provider}/v1/chat/completions`, postJson(chat(model)), env);
    expect((await post('groq', 'llama-3.3-70b-versatile')).status).toBe(200);
    expect((await post('openai', 'gpt-4o-mini')).status).toBe(200);
    expect((await post('anthropic', 'claude-sonnet-4-5')).status).toBe(200);
    expect(calls).toHaveLength(3);

    const denied = await post('groq', 'openai/gpt-oss-120b');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      error: {
        message: 'user "audrey" may not use model "groq/openai/gpt-oss-120b"',
        type: 'permission_error',
        code: 'model_not_allowed',
      },
    });
    expect(calls).toHaveLength(3);

    expect(await listIds(app.request('/groq/v1/models', { headers: userHeaders() }, env))).toEqual(['llama-3.3-70b-versatile']);
    expect((await app.request('/groq/v1/models/openai%2Fgpt-oss-120b', { headers: userHeaders() }, env)).status).toBe(404);
  });

  it('the models allow-list cannot be sidestepped by a non-JSON content type', async () => {
    const { calls } = okUpstream();
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, models: ['groq/llama-3.3-70b-versatile'] } } });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const res = await app.request(
        '/groq/v1/chat/completions',
        postJson(chat('openai/gpt-oss-120b'), userHeaders(USER_KEY, { 'content-type': contentType })),
        env,
      );
      expect(res.status).toBe(403);
    }
    expect(calls).toHaveLength(0);
  });

  it('the models allow-list applies to a multipart upload (audio transcription) too', async () => {
    const { calls } = mockUpstream(() => jsonResponse({ text: 'hello' }));
    const env = await makeEnv({ users: { audrey: { key: USER_KEY, models: ['groq/whisper-large-v3'] } } });
    const form = (model: string) => {
      const data = new FormData();
      data.set('model', model);
      data.set('file', new File([new Uint8Array([1, 2, 3])], 'a.mp3', { type: 'audio/mpeg' }));
      return data;
    };
    const send = (model: string) =>
      app.request('/groq/v1/audio/transcriptions', { method: 'POST', headers: { authorization: `Bearer ${USER_KEY}` }, body: form(model) }, env);
    expect((await send('whisper-large-v3')).status).toBe(200);
    expect((await send('whisper-large-v3-turbo')).status).toBe(403);
    expect(calls).toHaveLength(1);
  });
});

describe('allow-lists and the AI Gateway model form', () => {
  it('a model allowed by its vault id is allowed in its prefixed form too, and vice versa', async () => {
    const { calls } = okUpstream();
    const config = testConfig();
    config.providers.groq!.gatewayEndpoint = 'https://gateway.ai.cloudflare.com/v1/{account}/default/compat';
    const env = await makeEnv({
      config,
      users: {
        bare: { key: 'sy-bare-user-key', models: ['llama-3.3-70b-versatile'] },
        qualified: { key: 'sy-qualified-user-key', models: ['groq/llama-3.3-70b-versatile'] },
      },
      vars: { CLOUDFLARE_AIG_TOKEN: 'aig-token', CLOUDFLARE_ACCOUNT_ID: 'acc' },
    });
    for (const key of ['sy-bare-user-key', 'sy-qualified-user-key']) {
      for (const model of ['llama-3.3-70b-versatile', 'groq/llama-3.3-70b-versatile']) {
        const res = await app.request('/groq/v1/chat/completions', postJson(chat(model), userHeaders(key)), env);
        expect(res.status).toBe(200);
      }
      const denied = await app.request('/groq/v1/chat/completions', postJson(chat('groq/openai/gpt-oss-120b'), userHeaders(key)), env);
      expect(denied.status).toBe(403);
    }
    expect(calls.map((c) => c.json().model)).toEqual(Array(4).fill('groq/llama-3.3-70b-versatile'));
  });
});
