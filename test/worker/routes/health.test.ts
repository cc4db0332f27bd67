import { createScheduledController } from 'cloudflare:test';
import { afterEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import app from '../../../src/app';
import worker from '../../../src/index';
import type { Bindings } from '../../../src/env';
import { clearKeyHealthCache } from '../../../src/forward/key-health';
import { keySucceeded } from '../../../src/forward/keys';
import type { HealthReport } from '../../../src/health/report';
import { makeEnv, postJson, userHeaders } from '../helpers/env';
import { mockUpstream } from '../helpers/fetch';
import { keysOf, uniqueProviderId, VAULT_TOKEN } from '../helpers/vault';
import { jsonResponse, openaiChatCompletion } from '../helpers/wire';

// GET /healthz, and provider key health shared across isolates through the KeyHealth Durable Object.

afterEach(() => {
  vi.restoreAllMocks();
});

const operator = (token = VAULT_TOKEN) => ({ authorization: `Bearer ${token}` });
const health = async (env: Bindings, headers: Record<string, string> = operator()) => {
  const res = await app.request('/healthz', { headers }, env);
  return { status: res.status, body: await res.json<HealthReport>() };
};

function configOf(providers: Record<string, object[]>) {
  return {
    version: 1,
    providers: Object.fromEntries(
      Object.entries(providers).map(([id, keys]) => [
        id,
        { protocol: 'openai', endpoint: 'https://api.groq.com/openai/v1', keys, models: [{ id: 'llama-3.3-70b-versatile' }] },
      ]),
    ),
  };
}

const chat = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] };
const usedKey = (call: { headers: Headers }) => call.headers.get('authorization')!.replace(/^Bearer /, '');

/** The lines logged through `spy` that `match`. */
const logged = (spy: MockInstance<typeof console.error>, match: (line: string) => boolean) => spy.mock.calls.map((call) => String(call[0])).filter(match);

/** Poll the operator view until `ready` holds (a failure is shared after the answer, with waitUntil). */
async function healthWhen(env: Bindings, ready: (report: HealthReport) => boolean): Promise<HealthReport> {
  for (let i = 0; i < 100; i++) {
    const { body } = await health(env);
    if (ready(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the shared key health never showed the expected state');
}

describe('GET /healthz', () => {
  it('anyone gets only {status}; degraded (200: the other providers serve) when a provider has no usable key', async () => {
    const config = configOf({ alive: [{ key: 'k-alive-1' }], dead: [{ key: 'k-dead-1', type: 'expired' }] });
    const env = await makeEnv({ config });
    const res = await app.request('/healthz', {}, env);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: 'degraded' });
    for (const key of keysOf(config)) expect(text).not.toContain(key);
  });

  it('the operator gets every check and per provider usable / resting / expired keys', async () => {
    const config = configOf({
      groq: [{ key: 'gsk-h-1' }, { key: 'gsk-h-2', type: 'expired' }, { key: 'gsk-h-3', expiresAt: '2001-01-01T00:00:00Z' }],
      mistral: [{ key: 'ms-h-1' }, { key: 'ms-h-2' }],
    });
    const env = await makeEnv({ config });
    const res = await app.request('/healthz', { headers: operator() }, env);
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as HealthReport;
    expect(body.status).toBe('ok');
    expect(body.checks).toMatchObject({
      vault: { ok: true, providers: 2 },
      kv: { ok: true },
      d1: { ok: true },
      limiter: { ok: true },
      users: { ok: true, count: 1 },
      keyHealth: { ok: true },
      cache: { ok: true },
    });
    expect(body.providers).toEqual({
      groq: { keys: 3, usable: 1, resting: 0, expired: 2, lastFailure: null, signals: expect.any(Object) },
      mistral: { keys: 2, usable: 2, resting: 0, expired: 0, lastFailure: null, signals: expect.any(Object) },
    });
    // The tests' passphrase is made of common words: reported, never shown.
    expect(body.security).toEqual({ vaultTokenWeakness: { guessesLog10: expect.any(Number), warning: null }, adminTokenWeakness: null, adminTokenSet: false });
    for (const key of [...keysOf(config), VAULT_TOKEN]) expect(text).not.toContain(key);
  });

  it('reports a weak vault passphrase to the operator and in the log (once, without the token); a strong one is not', async () => {
    const log = vi.spyOn(console, 'error');
    const weak = await makeEnv({ vars: { AI_JSON_CRYPTOKEN: 'password2026' } });
    const weakReport = await health(weak, operator('password2026'));
    expect(weakReport.body.security.vaultTokenWeakness).toEqual({ guessesLog10: expect.any(Number), warning: 'similarToCommon' });
    await health(weak, operator('password2026'));
    const [line, ...more] = logged(log, (line) => line.includes('vault_token_weak') && line.includes('similarToCommon'));
    expect(more).toEqual([]);
    expect(JSON.parse(line!)).toMatchObject({ event: 'vault_token_weak', warning: 'similarToCommon' });
    expect(line).not.toContain('password2026');

    const strongToken = 'Zq8v-N3xw_Lr5tPe2Ks9yBm7Hc4Ud6Jf';
    const strong = await makeEnv({ vars: { AI_JSON_CRYPTOKEN: strongToken, ADMIN_TOKEN: 'operator-token-Xk3pW9qLm2Zr7VtB' } });
    const strongReport = await health(strong, operator('operator-token-Xk3pW9qLm2Zr7VtB'));
    expect(strongReport.body.security).toEqual({ vaultTokenWeakness: null, adminTokenWeakness: null, adminTokenSet: true });
  });

  it("the demo's own token (SWITCHYARD_DEMO) is an info line saying so, never an error; the operator view still reports it", async () => {
    const errors = vi.spyOn(console, 'error');
    const infos = vi.spyOn(console, 'log');
    const env = await makeEnv({ vars: { AI_JSON_CRYPTOKEN: 'demo-vault-token', SWITCHYARD_DEMO: 'true' } });
    const report = await health(env, operator('demo-vault-token'));
    expect(report.body.security.vaultTokenWeakness).not.toBeNull();
    expect(logged(errors, (line) => line.includes('vault_token_weak'))).toEqual([]);
    expect(logged(infos, (line) => line.includes('demo_vault_token'))).toHaveLength(1);
  });

  it('reports an 8-character ADMIN_TOKEN as weak, to the operator and in the log (once, without the token)', async () => {
    const log = vi.spyOn(console, 'error');
    const env = await makeEnv({ vars: { ADMIN_TOKEN: 'Xk3pW9qL' } });
    const { body } = await health(env, operator('Xk3pW9qL'));
    expect(body.security).toMatchObject({ adminTokenWeakness: { guessesLog10: 8, warning: null }, adminTokenSet: true });
    await health(env, operator('Xk3pW9qL'));
    const [line, ...more] = logged(log, (line) => line.includes('admin_token_weak'));
    expect(more).toEqual([]);
    expect(JSON.parse(line!)).toMatchObject({ event: 'admin_token_weak', guessesLog10: 8 });
    expect(line).not.toContain('Xk3pW9qL');
  });

  it('the daily cron logs a weak secret too (no operator needs to look)', async () => {
    const log = vi.spyOn(console, 'error');
    const env = await makeEnv({ vars: { ADMIN_TOKEN: 'Pw8cron!' } });
    await worker.scheduled(createScheduledController({ cron: '17 3 * * *' }), env);
    const [line, ...more] = logged(log, (line) => line.includes('admin_token_weak'));
    expect(more).toEqual([]);
    expect(JSON.parse(line!)).toMatchObject({ event: 'admin_token_weak', guessesLog10: expect.any(Number) });
    expect(line).not.toContain('Pw8cron!');
  });

  it('with ADMIN_TOKEN set, the vault passphrase gets no operator view', async () => {
    const env = await makeEnv({ vars: { ADMIN_TOKEN: 'operator-token-Xk3pW9qLm2Zr7VtB' } });
    expect((await app.request('/healthz', { headers: operator() }, env)).status).toBe(401);
  });

  it('a missing vault is reported, and the gateway is down (it can serve no request)', async () => {
    const env = await makeEnv({ config: null });
    const { status, body } = await health(env);
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.checks.vault).toEqual({ ok: false, error: 'no vault is stored yet: PUT one to /ai.json.enc' });
    expect(body.checks.kv.ok).toBe(true);
  });

  it.each([
    ['a user key', userHeaders()],
    ['a wrong token', operator('wrong-token')],
  ])('%s is refused with 401 (not given the public view)', async (_, headers) => {
    const env = await makeEnv();
    const res = await app.request('/healthz', { headers }, env);
    expect(res.status).toBe(401);
  });
});

describe('key health shared across isolates', () => {
  it('a key that failed in one isolate is skipped by another, and /healthz shows it resting with the failure', async () => {
    const id = uniqueProviderId('shared');
    const config = configOf({ [id]: [{ key: 'k-revoked' }, { key: 'k-good' }] });
    const env = await makeEnv({ config });
    const { calls } = mockUpstream((call) =>
      usedKey(call) === 'k-revoked'
        ? jsonResponse({ error: { message: 'invalid api key', type: 'invalid_request_error' } }, 401)
        : jsonResponse(openaiChatCompletion(call.json().model)),
    );
    expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(200);
    expect(calls.map(usedKey)).toEqual(['k-revoked', 'k-good']);

    const report = await healthWhen(env, (r) => r.providers[id]?.lastFailure !== null);
    expect(report.providers[id]).toMatchObject({ keys: 2, usable: 1, resting: 1, expired: 0, lastFailure: { status: 401, reason: 'http_401' } });
    expect(Date.now() - Date.parse(report.providers[id]!.lastFailure!.at)).toBeLessThan(60_000);

    // Another isolate: nothing local about these keys, the shared table not read yet.
    keySucceeded(id, 'k-revoked');
    clearKeyHealthCache();
    calls.length = 0;
    for (let i = 0; i < 4; i++) expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(200);
    // Round-robin would have started two of these four with the revoked key.
    expect(calls.map(usedKey)).toEqual(['k-good', 'k-good', 'k-good', 'k-good']);
  });

  it('a key that answers again is shared as recovered; its last failure stays on record', async () => {
    const id = uniqueProviderId('recover');
    const env = await makeEnv({ config: configOf({ [id]: [{ key: 'k-flaky' }] }) });
    let fail = true;
    mockUpstream((call) =>
      fail ? jsonResponse({ error: { message: 'slow down' } }, 429, { 'retry-after': '0' }) : jsonResponse(openaiChatCompletion(call.json().model)),
    );
    expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(429);
    await healthWhen(env, (r) => r.providers[id]?.lastFailure?.status === 429);
    fail = false;
    expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(200);
    const report = await healthWhen(env, (r) => r.providers[id]?.usable === 1);
    expect(report.providers[id]).toMatchObject({ usable: 1, resting: 0, lastFailure: { status: 429, reason: 'http_429' } });
  });

  it("the operator sees each provider's routing signals: averages, chart points, and per key index its headroom", async () => {
    const id = uniqueProviderId('signals');
    const config = configOf({ [id]: [{ key: 'k-sig-1' }, { key: 'k-sig-2' }] });
    const env = await makeEnv({ config, vars: { SIGNAL_FLUSH_MS: '10' } });
    mockUpstream((call) =>
      jsonResponse(openaiChatCompletion(call.json().model), 200, { 'x-ratelimit-remaining-tokens': '4321', 'x-ratelimit-reset-tokens': '30s' }),
    );
    for (let i = 0; i < 4; i++) expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(200);
    const report = await healthWhen(env, (r) => (r.providers[id]?.signals?.keys.length ?? 0) === 2);
    const signals = report.providers[id]!.signals!;
    expect(signals).toMatchObject({ errorRate: 0, refusalRate: 0, ttfbMs: expect.any(Number), updatedAt: expect.any(String) });
    expect(signals.keys.map((k) => [k.index, k.headroom?.tokens])).toEqual([
      [0, 4321],
      [1, 4321],
    ]);
    expect(signals.points.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(report)).not.toContain('k-sig-');
  });
});
