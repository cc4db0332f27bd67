import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { MAX_VAULT_BYTES } from '../../../src/middleware/body-limit';
import { PREVIOUS_VAULT_KEY, VAULT_KEY, VAULT_TEXT_CACHE_MS } from '../../../src/vault/store';
import { listIds, makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { fixtures } from '../helpers/fixtures';
import { sealVault, testConfig, VAULT_TOKEN } from '../helpers/vault';

const admin = (token = VAULT_TOKEN) => ({ authorization: `Bearer ${token}` });
const put = (body: BodyInit, token = VAULT_TOKEN) => ({ method: 'PUT', headers: admin(token), body });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('GET /ai.json.enc', () => {
  it('is public and returns the stored text byte for byte', async () => {
    for (const text of [fixtures.wrapped, fixtures.oneLine]) {
      const env = await makeEnv({ vaultText: text });
      const res = await app.request('/ai.json.enc', {}, env);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe(text);
    }
  });

  it('is a 404 in the error shape when no vault is stored', async () => {
    const env = await makeEnv({ config: null });
    const res = await app.request('/ai.json.enc', {}, env);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'vault_missing' } });
  });
});

describe('GET /ai.json', () => {
  it('returns the exact decrypted plaintext to the vault token', async () => {
    const env = await makeEnv({ vaultText: fixtures.wrapped });
    const res = await app.request('/ai.json', { headers: admin() }, env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe(fixtures.plaintext);
  });

  it.each([
    ['no credential', {}],
    ['a wrong token', admin('test-vault-tokeN')],
    ['a user key', userHeaders()],
    ['a prefix of the token', admin('test-vault')],
    ['a malformed header', { authorization: 'Basic dGVzdDp0ZXN0' }],
  ])('refuses %s with 401 and reveals nothing', async (_, headers) => {
    const env = await makeEnv({ vaultText: fixtures.wrapped });
    const res = await app.request('/ai.json', { headers }, env);
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ error: { type: 'authentication_error' } });
    expect(body).not.toContain('gsk_');
    expect(body).not.toContain(VAULT_TOKEN);
  });

  it('a decrypted, cached config never lets a later request skip the token check', async () => {
    const env = await makeEnv({ vaultText: fixtures.wrapped });
    expect((await app.request('/ai.json', { headers: admin() }, env)).status).toBe(200);
    for (const headers of [{}, admin('wrong'), userHeaders()]) {
      const res = await app.request('/ai.json', { headers }, env);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('providers');
    }
  });

  it('a stored vault that does not decrypt is a 500 that says so without leaking', async () => {
    const env = await makeEnv({ vaultText: fixtures.otherToken });
    const res = await app.request('/ai.json', { headers: admin() }, env);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body).error.message).toMatch(/stored vault cannot be used.*does not decrypt/);
    expect(body).not.toContain(VAULT_TOKEN);
  });

  it('without AI_JSON_CRYPTOKEN the vault endpoints answer 503, not 200', async () => {
    const env = await makeEnv({ vaultText: fixtures.wrapped, vars: { AI_JSON_CRYPTOKEN: undefined } });
    for (const [path, init] of [
      ['/ai.json', { headers: admin() }],
      ['/ai.json.enc', put(fixtures.wrapped)],
    ] as const) {
      const res = await app.request(path, init, env);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'operator_token_unset' } });
    }
  });
});

describe('PUT /ai.json.enc', () => {
  async function stored(env: Awaited<ReturnType<typeof makeEnv>>) {
    return {
      current: await env.KV_AI_PROXY.get(VAULT_KEY),
      previous: await env.KV_AI_PROXY.get(PREVIOUS_VAULT_KEY),
    };
  }

  it('stores an openssl-made vault, keeps the replaced text as the previous version, and serves it at once', async () => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    expect(await (await app.request('/ai.json', { headers: admin() }, env)).text()).not.toBe(fixtures.plaintext);

    const res = await app.request('/ai.json.enc', put(fixtures.wrapped), env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, providers: 3, keys: 4, models: 5 });
    expect(await stored(env)).toEqual({ current: fixtures.wrapped, previous: old });

    expect(await (await app.request('/ai.json.enc', {}, env)).text()).toBe(fixtures.wrapped);
    expect(await (await app.request('/ai.json', { headers: admin() }, env)).text()).toBe(fixtures.plaintext);
    expect(await listIds(app.request('/v1/providers', { headers: userHeaders() }, env))).toEqual(['groq', 'anthropic', 'gemini']);
  });

  it('each accepted PUT moves the text it replaces to :previous', async () => {
    const env = await makeEnv({ config: null });
    expect((await app.request('/ai.json.enc', put(fixtures.wrapped), env)).status).toBe(200);
    expect(await stored(env)).toEqual({ current: fixtures.wrapped, previous: null });
    expect((await app.request('/ai.json.enc', put(fixtures.oneLine), env)).status).toBe(200);
    expect(await stored(env)).toEqual({ current: fixtures.oneLine, previous: fixtures.wrapped });
  });

  it.each([
    ['no credential', {}],
    ['a wrong token', admin('wrong-token')],
    ['a user key', { authorization: `Bearer ${USER_KEY}` }],
  ])('refuses %s with 401 and leaves the vault as it was', async (_, headers) => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const res = await app.request('/ai.json.enc', { method: 'PUT', headers, body: fixtures.wrapped }, env);
    expect(res.status).toBe(401);
    expect(await stored(env)).toEqual({ current: old, previous: null });
  });

  it.each([
    ['encrypted with another passphrase', () => fixtures.otherToken, 'vault_wrong_passphrase', /does not decrypt with this token/],
    ['not base64', () => '{"version":1,"providers":{}}', 'vault_not_base64', /not base64/],
    ['base64 without Salted__', () => btoa('x'.repeat(64)), 'vault_not_salted', /Salted__/],
    ['not JSON inside', () => fixtures.notJson, 'vault_not_json', /not JSON/],
    ['JSON that is not an AiConfig', () => fixtures.invalidConfig, 'vault_invalid', /not a valid AiConfig: providers\.groq\.endpoint/],
    ['empty', () => '', 'vault_not_base64', /not base64/],
  ])('refuses a body %s with a 4xx naming the problem; the stored vault stays', async (_, body, code, message) => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const res = await app.request('/ai.json.enc', put(body()), env);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const json = await res.json<{ error: { message: string; code: string } }>();
    expect(json.error.code).toBe(code);
    expect(json.error.message).toMatch(message);
    expect(await stored(env)).toEqual({ current: old, previous: null });
    // …and the gateway keeps serving the old vault.
    expect(await (await app.request('/ai.json', { headers: admin() }, env)).json()).toEqual(testConfig());
  });

  it('a body over 1 MiB is a 413 (with or without content-length) and the vault stays', async () => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const big = `${'A'.repeat(64)}\n`.repeat(Math.ceil((MAX_VAULT_BYTES + 1) / 65));
    expect(big.length).toBeGreaterThan(MAX_VAULT_BYTES);

    const sized = await app.request('/ai.json.enc', put(big), env);
    expect(sized.status).toBe(413);
    expect(await sized.json()).toMatchObject({ error: { code: 'request_too_large' } });

    const streamed = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 65_536) controller.enqueue(new TextEncoder().encode(big.slice(i, i + 65_536)));
        controller.close();
      },
    });
    const chunked = await app.request('/ai.json.enc', put(streamed), env);
    expect(chunked.status).toBe(413);
    expect(await stored(env)).toEqual({ current: old, previous: null });
  });

  it('a vault just under the limit is not refused for its size', async () => {
    const env = await makeEnv({ config: null });
    const config = { ...testConfig(), padding: 'p'.repeat(700_000) };
    const text = await sealVault(config);
    expect(text.length).toBeLessThanOrEqual(MAX_VAULT_BYTES);
    expect(text.length).toBeGreaterThan(900_000);
    expect((await app.request('/ai.json.enc', put(text), env)).status).toBe(200);
  });
});

describe('vault cache: PBKDF2 once per vault version per isolate', () => {
  it('decrypts once for many requests of several kinds', async () => {
    forbidUpstream();
    const env = await makeEnv({ vaultText: await sealVault(testConfig(), { fresh: true }) });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    for (let i = 0; i < 3; i++) {
      expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(200);
      expect((await app.request('/groq/v1/models', { headers: userHeaders() }, env)).status).toBe(200);
      expect((await app.request('/ai.json', { headers: admin() }, env)).status).toBe(200);
    }
    expect(deriveBits).toHaveBeenCalledTimes(1);
  });

  it('picks up a vault changed in KV (no redeploy) after the cache window, decrypting the new version once', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const env = await makeEnv({ vaultText: await sealVault(testConfig(), { fresh: true }) });
    const changed = await sealVault(fixtures.plaintext, { fresh: true });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    const ids = () => listIds(app.request('/v1/providers', { headers: userHeaders() }, env));
    expect(await ids()).toContain('sambanova');
    expect(deriveBits).toHaveBeenCalledTimes(1);

    // Another isolate (or `wrangler kv key put`) writes a new vault straight to KV.
    await env.KV_AI_PROXY.put(VAULT_KEY, changed);
    vi.setSystemTime(Date.now() + VAULT_TEXT_CACHE_MS - 1_000);
    expect(await ids()).toContain('sambanova');

    vi.setSystemTime(Date.now() + 2_000);
    expect(await ids()).toEqual(['groq', 'anthropic', 'gemini']);
    expect(await ids()).toEqual(['groq', 'anthropic', 'gemini']);
    expect(deriveBits).toHaveBeenCalledTimes(2);
  });

  it('the same text read again after the window is not decrypted again (keyed by digest)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const env = await makeEnv({ vaultText: await sealVault(fixtures.plaintext, { fresh: true }) });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    for (let i = 0; i < 3; i++) {
      expect((await app.request('/ai.json', { headers: admin() }, env)).status).toBe(200);
      vi.setSystemTime(Date.now() + VAULT_TEXT_CACHE_MS + 1);
    }
    expect(deriveBits).toHaveBeenCalledTimes(1);
  });
});

describe('vault cache under load and failure', () => {
  it('concurrent first requests share one decryption', async () => {
    forbidUpstream();
    const env = await makeEnv({ vaultText: await sealVault(testConfig(), { fresh: true }) });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    const answers = await Promise.all(Array.from({ length: 6 }, () => app.request('/v1/providers', { headers: userHeaders() }, env)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(deriveBits).toHaveBeenCalledTimes(1);
  });

  it('a stored vault that does not decrypt costs one PBKDF2 run, not one per request; a fixed vault is picked up', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const broken = await sealVault(testConfig(), { token: 'some-other-token', fresh: true });
    const env = await makeEnv({ vaultText: broken });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    for (let i = 0; i < 4; i++) {
      const res = await app.request('/v1/providers', { headers: userHeaders() }, env);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ error: { code: 'vault_wrong_passphrase' } });
      vi.setSystemTime(Date.now() + VAULT_TEXT_CACHE_MS + 1);
    }
    expect(deriveBits).toHaveBeenCalledTimes(1);

    await env.KV_AI_PROXY.put(VAULT_KEY, await sealVault(testConfig(), { fresh: true }));
    vi.setSystemTime(Date.now() + VAULT_TEXT_CACHE_MS + 1);
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(200);
  });
});
