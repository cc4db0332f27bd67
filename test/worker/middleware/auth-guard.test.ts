import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { makeEnv, userHeaders } from '../helpers/env';
import { VAULT_TOKEN } from '../helpers/vault';

// The failed-authentication guard: IPv6 clients are counted by their /64, and a guard that cannot
// count fails closed. Limiter objects outlive a test: each test uses its own addresses.

afterEach(() => vi.restoreAllMocks());

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;
/** A /64 of 2001:db8::/32 (documentation) no other test uses. */
const fresh64 = () => `2001:db8:${(Date.now() % 0xffff).toString(16)}:${(serial++ % 0xffff).toString(16)}`;

const ipHeaders = (ip: string, key: string) => userHeaders(key, { 'cf-connecting-ip': ip });

describe('IPv6 clients are counted by their /64', () => {
  it('rotating addresses inside one /64 does not escape the limit; another /64 is not affected', async () => {
    const name = unique('v6');
    const key = `key-${name}`;
    const env = await makeEnv({ users: { [name]: { key } }, vars: { AUTH_FAILURE_LIMIT: '3' } });
    const net = fresh64();
    const statuses = [];
    for (const [i, host] of [':1', 'a:b:c:d', '0:0:0:ff', 'ffff:ffff:ffff:ffff'].entries()) {
      statuses.push((await app.request('/v1/providers', { headers: ipHeaders(`${net}:${host}`, `guess-${i}`) }, env)).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Even the right key, from yet another address of that /64.
    expect((await app.request('/v1/providers', { headers: ipHeaders(`${net}::beef`, key) }, env)).status).toBe(429);
    // The same /64 written in full, upper case, with leading zeros.
    const [a, b, c, d] = net.split(':').map((group) => group.padStart(4, '0').toUpperCase());
    expect((await app.request('/v1/providers', { headers: ipHeaders(`${a}:${b}:${c}:${d}:0000:0000:0000:0001`, key) }, env)).status).toBe(429);
    expect((await app.request('/v1/providers', { headers: ipHeaders(`${fresh64()}::1`, key) }, env)).status).toBe(200);
  });
});

describe('the guard fails closed', () => {
  const brokenLimiter = (env: Bindings): Bindings => ({
    ...env,
    RATE_LIMITER: {
      idFromName: () => {
        throw new Error('durable objects unavailable');
      },
    } as unknown as Bindings['RATE_LIMITER'],
  });

  it('a failed attempt the guard cannot count is a 503, and that address is refused until it can', async () => {
    const name = unique('closed');
    const key = `key-${name}`;
    const env = brokenLimiter(await makeEnv({ users: { [name]: { key } } }));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const ip = `198.51.100.${serial++ % 250}`;
    const guess = await app.request('/v1/providers', { headers: ipHeaders(ip, 'a-guess') }, env);
    expect(guess.status).toBe(503);
    expect(await guess.json()).toMatchObject({ error: { code: 'auth_guard_unavailable' } });
    expect(Number(guess.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(logged.mock.calls.flat().join('\n')).toContain('rate_limiter_unavailable');
    // The next guess from that address, right or wrong, is not let through unchecked.
    expect((await app.request('/v1/providers', { headers: ipHeaders(ip, 'another-guess') }, env)).status).not.toBe(401);
    expect((await app.request('/v1/providers', { headers: ipHeaders(ip, key) }, env)).status).toBe(429);
    // A valid credential from another address never needs the guard.
    expect((await app.request('/v1/providers', { headers: ipHeaders('198.51.100.251', key) }, env)).status).toBe(200);
  });

  it('the operator token too', async () => {
    const env = brokenLimiter(await makeEnv());
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const ip = `${fresh64()}::7`;
    const get = (token: string) => app.request('/ai.json', { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': ip } }, env);
    expect((await get('wrong')).status).toBe(503);
    expect((await get(VAULT_TOKEN)).status).toBe(429);
  });
});
