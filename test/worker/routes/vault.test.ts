import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { MAX_VAULT_BYTES } from '../../../src/middleware/body-limit';
import { PREVIOUS_VAULT_KEY, VAULT_KEY, VAULT_TEXT_CACHE_MS } from '../../../src/vault/store';
import { listIds, makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { fixtures } from '../helpers/fixtures';
import { keysOf, sealVault, testConfig, VAULT_TOKEN } from '../helpers/vault';

const ADMIN_TOKEN = 'operator-token-Xk3pW9qLm2Zr7VtB';
const admin = (token = VAULT_TOKEN) => ({ authorization: `Bearer ${token}` });
const put = (body: BodyInit, token = VAULT_TOKEN) => ({ method: 'PUT', headers: admin(token), body });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('GET /ai.json.enc', () => {
  it('returns the stored text byte for byte to the operator token', async () => {
    for (const text of [fixtures.wrapped, fixtures.oneLine]) {
      const env = await makeEnv({ vaultText: text });
      const res = await app.request('/ai.json.enc', { headers: admin() }, env);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe(text);
    }
  });

  it.each([
    ['no credential', {}],
    ['a wrong token', admin('wrong-token')],
    ['a user key', userHeaders()],
  ])('refuses %s with 401: the ciphertext is not public (offline guessing of the passphrase)', async (_, headers) => {
    const env = await makeEnv({ vaultText: fixtures.wrapped });
    const res = await app.request('/ai.json.enc', { headers }, env);
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(fixtures.wrapped.slice(0, 40));
  });

  it('PUBLIC_VAULT_DOWNLOAD=true serves it without a credential (old scripts)', async () => {
    const env = await makeEnv({ vaultText: fixtures.wrapped, vars: { PUBLIC_VAULT_DOWNLOAD: 'true', ADMIN_TOKEN } });
    const res = await app.request('/ai.json.enc', {}, env);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(fixtures.wrapped);
  });

  it('is a 404 in the error shape when no vault is stored', async () => {
    const env = await makeEnv({ config: null });
    const res = await app.request('/ai.json.enc', { headers: admin() }, env);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'vault_missing' } });
  });
});

describe('the vault passphrase, not ADMIN_TOKEN', () => {
  const VAULT_ROUTES: [string, string][] = [
    ['GET', '/ai.json.enc'],
    ['GET', '/ai.json.enc/history'],
    ['GET', '/ai.json'],
    ['PUT', '/ai.json.enc'],
  ];

  it('with ADMIN_TOKEN set, the passphrase still reads and writes the vault in every form', async () => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old, vars: { ADMIN_TOKEN } });
    expect(await (await app.request('/ai.json.enc', { headers: admin() }, env)).text()).toBe(old);
    expect((await app.request('/ai.json.enc/history', { headers: admin() }, env)).status).toBe(200);
    expect(await (await app.request('/ai.json', { headers: admin() }, env)).json()).toEqual(testConfig());
    expect((await app.request('/ai.json.enc', put(fixtures.wrapped), env)).status).toBe(200);
    expect(await env.KV_AI_PROXY.get(VAULT_KEY)).toBe(fixtures.wrapped);
  });

  it.each(VAULT_ROUTES)('ADMIN_TOKEN is refused (403, no key, no write) on %s %s', async (method, path) => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old, vars: { ADMIN_TOKEN } });
    const res = await app.request(path, { method, headers: admin(ADMIN_TOKEN), body: method === 'PUT' ? fixtures.wrapped : undefined }, env);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'vault_token_required' } });
    for (const secret of [...keysOf(testConfig()), old.slice(0, 40), VAULT_TOKEN]) expect(body).not.toContain(secret);
    expect(await env.KV_AI_PROXY.get(VAULT_KEY)).toBe(old);
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
      expect(await res.json()).toMatchObject({ error: { code: 'vault_token_unset' } });
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

    expect(await (await app.request('/ai.json.enc', { headers: admin() }, env)).text()).toBe(fixtures.wrapped);
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

  it.each([
    ['endpoint', 'http://evil.example', /providers\.groq\.endpoint: must be https/],
    ['endpoint', 'https://x@evil.example', /providers\.groq\.endpoint: .*userinfo/],
    ['endpoint', 'https://user:pw@api.groq.com/openai/v1', /providers\.groq\.endpoint: .*userinfo/],
    ['endpoint', 'http://10.0.0.1:8080', /providers\.groq\.endpoint: must be https/],
    ['endpoint', 'http://localhost.evil.example', /providers\.groq\.endpoint: must be https/],
    ['gatewayEndpoint', 'http://gateway.example', /providers\.groq\.gatewayEndpoint: must be https/],
    ['gatewayEndpoint', 'https://a:b@gateway.ai.cloudflare.com/v1', /providers\.groq\.gatewayEndpoint: .*userinfo/],
  ])('refuses a vault whose %s is %s with 422 naming the field; the stored vault stays', async (field, url, message) => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const config = testConfig() as { providers: Record<string, Record<string, unknown>> };
    config.providers.groq![field] = url;
    const res = await app.request('/ai.json.enc', put(await sealVault(config)), env);
    expect(res.status).toBe(422);
    const json = await res.json<{ error: { message: string; code: string } }>();
    expect(json.error.code).toBe('vault_invalid');
    expect(json.error.message).toMatch(message);
    expect(await stored(env)).toEqual({ current: old, previous: null });
  });

  it.each(['http://127.0.0.1:8787/v1', 'http://localhost:9000', 'http://[::1]:9000/v1', 'https://api.groq.com/openai/v1'])(
    'accepts the endpoint %s (http only for loopback, local development)',
    async (url) => {
      const env = await makeEnv({ config: null });
      const config = testConfig() as { providers: Record<string, Record<string, unknown>> };
      config.providers.groq!.endpoint = url;
      expect((await app.request('/ai.json.enc', put(await sealVault(config)), env)).status).toBe(200);
    },
  );

  it('two concurrent PUTs: one text is current, the other previous (neither is lost)', async () => {
    const first = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: first });
    const texts = await Promise.all([2, 3].map((version) => sealVault({ ...testConfig(), version }, { fresh: true })));
    const answers = await Promise.all(texts.map((text) => app.request('/ai.json.enc', put(text), env)));
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const { current, previous } = await stored(env);
    expect(new Set([current, previous])).toEqual(new Set(texts));
  });

  it('concurrent PUTs lose no version: each accepted text is the current or in the :previous chain', async () => {
    const first = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: first });
    const texts = await Promise.all([1, 2, 3, 4].map((n) => sealVault({ ...testConfig(), version: n + 1 }, { fresh: true })));
    const answers = await Promise.all(texts.map((text) => app.request('/ai.json.enc', put(text), env)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const chain = [await env.KV_AI_PROXY.get(VAULT_KEY)];
    const history = await app.request('/ai.json.enc/history', { headers: admin() }, env);
    expect(history.status).toBe(200);
    const { versions } = await history.json<{ versions: { digest: string; text: string }[] }>();
    // The newest four replaced versions are this test's (the writer's storage outlives a test).
    chain.push(...versions.slice(0, 4).map((v) => v.text));
    // Every written text and the one it started from survive, each once.
    expect(new Set(chain)).toEqual(new Set([first, ...texts]));
    expect(chain).toHaveLength(5);
    expect(await env.KV_AI_PROXY.get(PREVIOUS_VAULT_KEY)).toBe(chain[1]);
  });

  it('If-Match with the ETag of GET /ai.json.enc writes; a stale ETag is a 412 and nothing changes', async () => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const got = await app.request('/ai.json.enc', { headers: admin() }, env);
    const etag = got.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const ok = await app.request('/ai.json.enc', { method: 'PUT', headers: { ...admin(), 'if-match': etag! }, body: fixtures.wrapped }, env);
    expect(ok.status).toBe(200);
    const stale = await app.request('/ai.json.enc', { method: 'PUT', headers: { ...admin(), 'if-match': etag! }, body: fixtures.oneLine }, env);
    expect(stale.status).toBe(412);
    expect(await stale.json()).toMatchObject({ error: { code: 'vault_changed' } });
    expect(await stored(env)).toEqual({ current: fixtures.wrapped, previous: old });
  });

  it('If-Match: * writes over any current vault (RFC 9110: it matches any current representation)', async () => {
    const old = await sealVault(testConfig());
    const env = await makeEnv({ vaultText: old });
    const res = await app.request('/ai.json.enc', { method: 'PUT', headers: { ...admin(), 'if-match': '*' }, body: fixtures.wrapped }, env);
    expect(res.status).toBe(200);
    expect(await stored(env)).toEqual({ current: fixtures.wrapped, previous: old });
  });

  it('If-Match: * is a 412 while no vault exists, and nothing is stored', async () => {
    const env = await makeEnv({ config: null });
    const res = await app.request('/ai.json.enc', { method: 'PUT', headers: { ...admin(), 'if-match': '*' }, body: fixtures.wrapped }, env);
    expect(res.status).toBe(412);
    expect(await res.json()).toMatchObject({ error: { code: 'vault_missing' } });
    expect(await stored(env)).toEqual({ current: null, previous: null });
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
  it("concurrent first requests decrypt at most once each (no request awaits another's work), and later ones not at all", async () => {
    forbidUpstream();
    const env = await makeEnv({ vaultText: await sealVault(testConfig(), { fresh: true }) });
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    const answers = await Promise.all(Array.from({ length: 6 }, () => app.request('/v1/providers', { headers: userHeaders() }, env)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const first = deriveBits.mock.calls.length;
    expect(first).toBeGreaterThanOrEqual(1);
    expect(first).toBeLessThanOrEqual(6);
    expect((await app.request('/v1/providers', { headers: userHeaders() }, env)).status).toBe(200);
    expect(deriveBits).toHaveBeenCalledTimes(first);
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
