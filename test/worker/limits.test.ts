import { env as testEnv, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { Gcra } from '../../src/limits/gcra';
import type { UserMeter } from '../../src/limits/user-meter';
import { makeEnv, userHeaders } from './helpers/env';
import { mockUpstream } from './helpers/fetch';
import { VAULT_TOKEN } from './helpers/vault';

// Per-user rate limit (the user's Durable Object, GCRA: bursts of rpm, one more every minute / rpm) and the per-IP brute-force guard.
// Each test uses its own user names and client addresses: limiter objects outlive a test.

afterEach(() => vi.restoreAllMocks());

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;

async function usersEnv(users: Record<string, Record<string, unknown>>, vars: Partial<Bindings> = {}) {
  return makeEnv({ users, vars });
}

const chat = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] };

describe('per-user rate limit', () => {
  it('lets exactly rpm requests through out of 50 concurrent ones, refusing the rest with 429 and Retry-After', async () => {
    const name = unique('burst');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key, rpm: 10 } });
    const responses = await Promise.all(Array.from({ length: 50 }, () => app.request('/v1/providers', { headers: userHeaders(key) }, env)));
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const res of refused) {
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limited' } });
    }
    const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const res of ok) {
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    }
  });

  it('counts each user in its own object: one user at the limit does not slow another', async () => {
    const [a, b] = [unique('a'), unique('b')];
    const env = await usersEnv({ [a]: { key: `key-${a}`, rpm: 2 }, [b]: { key: `key-${b}`, rpm: 2 } });
    const statuses = async (key: string) =>
      Promise.all([1, 2, 3].map(async () => (await app.request('/v1/providers', { headers: userHeaders(key) }, env)).status));
    expect(await statuses(`key-${a}`)).toEqual(expect.arrayContaining([200, 200, 429]));
    expect((await statuses(`key-${b}`)).filter((s) => s === 200)).toHaveLength(2);
  });

  it('uses DEFAULT_RPM for a user without rpm, and DEFAULT_RPM=0 means unlimited', async () => {
    const name = unique('default');
    const key = `key-${name}`;
    const limited = await usersEnv({ [name]: { key } }, { DEFAULT_RPM: '3' });
    const first = await Promise.all(Array.from({ length: 5 }, () => app.request('/v1/providers', { headers: userHeaders(key) }, limited)));
    expect(first.filter((r) => r.status === 200)).toHaveLength(3);
    expect(first[0]!.headers.get('x-ratelimit-limit')).toBe('3');

    const other = unique('unlimited');
    const unlimited = await usersEnv({ [other]: { key: `key-${other}` } }, { DEFAULT_RPM: '0' });
    const all = await Promise.all(Array.from({ length: 30 }, () => app.request('/v1/providers', { headers: userHeaders(`key-${other}`) }, unlimited)));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(all[0]!.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('refuses before any upstream call, and a forwarded answer carries the rate-limit headers', async () => {
    const name = unique('proxy');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key, rpm: 1 } });
    const { calls } = mockUpstream(() => Response.json({ id: 'chatcmpl-1', object: 'chat.completion', choices: [] }));
    const init = () => ({ method: 'POST', headers: userHeaders(key), body: JSON.stringify(chat) });
    const first = await app.request('/groq/v1/chat/completions', init(), env);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('0');
    const second = await app.request('/groq/v1/chat/completions', init(), env);
    expect(second.status).toBe(429);
    expect(calls).toHaveLength(1);
  });

  it('keeps the headers on errors raised after the limiter (404 unknown provider, legacy X-Host-Final form)', async () => {
    const name = unique('errors');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key, rpm: 5 } });
    mockUpstream(() => new Response('{"error":{"message":"bad","type":"invalid_request_error","code":null}}', { status: 400 }));
    const unknown = await app.request('/nope/v1/chat/completions', { method: 'POST', headers: userHeaders(key), body: JSON.stringify(chat) }, env);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-ratelimit-remaining')).toBe('4');
    const legacy = await app.request(
      '/openai/v1/chat/completions',
      { method: 'POST', headers: userHeaders(key, { 'x-host-final': 'api.groq.com' }), body: '{' },
      env,
    );
    expect(legacy.status).toBe(400);
    expect(legacy.headers.get('x-ratelimit-remaining')).toBe('3');
  });

  it('refills one request every minute / rpm after a burst of rpm, and peek never counts', () => {
    const limiter = new Gcra();
    const t0 = 1_000_000;
    expect(limiter.take(2, 60_000, t0)).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.take(2, 60_000, t0)).toMatchObject({ allowed: true, remaining: 0, resetMs: 60_000 });
    const refused = limiter.take(2, 60_000, t0 + 1_000);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, resetMs: 29_000 });
    // One interval (60 s / 2) after the burst, one more request passes; a full minute refills the burst.
    expect(limiter.take(2, 60_000, t0 + 30_000)).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.peek(2, 60_000, t0 + 60_000)).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.peek(2, 60_000, t0 + 60_000)).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.peek(2, 60_000, t0 + 90_000)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('keeps one number per limiter whatever the rpm, and writes nothing to storage per verdict', async () => {
    const name = unique('big');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key, rpm: 1_000_000 } });
    const stub = testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${name}`));
    await app.request('/v1/providers', { headers: userHeaders(key) }, env);
    const size = await runInDurableObject(stub, (_instance: UserMeter, state) => state.storage.sql.databaseSize);
    const all = await Promise.all(Array.from({ length: 200 }, () => app.request('/v1/providers', { headers: userHeaders(key) }, env)));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(all.every((r) => r.headers.get('x-ratelimit-limit') === '1000000')).toBe(true);
    expect(await runInDurableObject(stub, (_instance: UserMeter, state) => state.storage.sql.databaseSize)).toBe(size);
  });

  it('lets requests through (and logs) when the limiter object cannot answer', async () => {
    const name = unique('down');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key, rpm: 1 } });
    const broken = {
      ...env,
      USER_METER: {
        idFromName: () => {
          throw new Error('durable objects unavailable');
        },
      } as unknown as Bindings['USER_METER'],
    };
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await app.request('/v1/providers', { headers: userHeaders(key) }, broken);
    expect(res.status).toBe(200);
    expect(logged.mock.calls.flat().join('\n')).toContain('rate_limiter_unavailable');
  });
});

describe('brute-force guard on failed authentications', () => {
  const ipHeaders = (ip: string, key: string) => userHeaders(key, { 'cf-connecting-ip': ip });

  it('answers 429 to an address past AUTH_FAILURE_LIMIT failures, with a wrong and with a correct key alike', async () => {
    const name = unique('victim');
    const key = `key-${name}`;
    const env = await usersEnv({ [name]: { key } }, { AUTH_FAILURE_LIMIT: '5' });
    const attacker = `203.0.113.${serial++ % 250}`;
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push(await app.request('/v1/providers', { headers: ipHeaders(attacker, `guess-${i}`) }, env));
    expect(guesses.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);

    const blocked = await app.request('/v1/providers', { headers: ipHeaders(attacker, 'guess-5') }, env);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await blocked.json()).toMatchObject({ error: { code: 'auth_rate_limited' } });

    // The right key from the locked address is refused the same way: a guess cannot be confirmed.
    const correct = await app.request('/v1/providers', { headers: ipHeaders(attacker, key) }, env);
    expect(correct.status).toBe(429);
    // Another address is not affected.
    const other = await app.request('/v1/providers', { headers: ipHeaders('198.51.100.7', key) }, env);
    expect(other.status).toBe(200);
  });

  it('guards the vault token the same way', async () => {
    const env = await makeEnv({ vars: { AUTH_FAILURE_LIMIT: '3' } });
    const ip = `192.0.2.${serial++ % 250}`;
    const get = (token: string) => app.request('/ai.json', { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip } }, env);
    expect([(await get('wrong-1')).status, (await get('wrong-2')).status, (await get('wrong-3')).status]).toEqual([401, 401, 401]);
    expect((await get(VAULT_TOKEN)).status).toBe(429);
    expect((await app.request('/ai.json', { headers: { authorization: `Bearer ${VAULT_TOKEN}`, 'cf-connecting-ip': '192.0.2.251' } }, env)).status).toBe(200);
  });

  it('counts exactly under concurrency: of 30 simultaneous wrong guesses exactly the limit get a 401', async () => {
    const env = await makeEnv({ vars: { AUTH_FAILURE_LIMIT: '4' } });
    const network = `2001:db8:ffff:${(serial++).toString(16)}`;
    const ip = `${network}::1`;
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => app.request('/v1/providers', { headers: ipHeaders(ip, `g${i}`) }, env)));
    const statuses = all.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(26);
    const stub = testEnv.RATE_LIMITER.get(testEnv.RATE_LIMITER.idFromName(`auth-ip:${network}::/64`));
    expect(await stub.peek(4, 300_000)).toMatchObject({ allowed: false, remaining: 0 });
  });

  it('does not count missing credentials, disabled users or successes', async () => {
    const name = unique('fine');
    const env = await usersEnv({ [name]: { key: `key-${name}` }, [`${name}-off`]: { key: `key-${name}-off`, disabled: true } }, { AUTH_FAILURE_LIMIT: '2' });
    const ip = `198.18.0.${serial++ % 250}`;
    for (let i = 0; i < 4; i++) {
      expect((await app.request('/v1/providers', { headers: { 'cf-connecting-ip': ip } }, env)).status).toBe(401);
      expect((await app.request('/v1/providers', { headers: ipHeaders(ip, `key-${name}-off`) }, env)).status).toBe(403);
      expect((await app.request('/v1/providers', { headers: ipHeaders(ip, `key-${name}`) }, env)).status).toBe(200);
    }
  });
});
