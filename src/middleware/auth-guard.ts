import type { Context } from 'hono';
import type { Env } from '../env';
import { logEvent } from '../log';
import { guardedNetwork } from '../limits/client-address';
import { settingsOf } from '../limits/settings';
import { consultLimiter, secondsUntil } from '../limits/verdicts';
import { GatewayError } from '../errors';

// Brute-force guard: failed authentications (user keys and the vault token) are counted per client IP
// in the rate-limiter Durable Object `auth-ip:<ip>`. Past AUTH_FAILURE_LIMIT failures within
// AUTH_FAILURE_WINDOW_S the address gets 429 whether its credential is right or wrong, so a guess can
// no longer be confirmed. A failure is counted by a `take` on the object, which serialises them: of a
// burst of simultaneous wrong guesses exactly the limit get a 401, the rest a 429. A valid credential
// costs no call (the memo below). An IPv6 client is counted by its /64 (src/limits/client-address.ts).
// The guard fails closed: a failure it cannot count (the object does not answer) is a 503, and the
// address is then refused in this isolate for the window, so guessing does not get easier when the
// object is down. Cloudflare always sets `cf-connecting-ip`; a request without it (a local test
// calling the app directly) is not guarded.

/** This isolate's memo of locked addresses (until when): a locked client is refused without a lookup. */
const locked = new Map<string, number>();
const MEMO_LIMIT = 10_000;

function remember(ip: string, until: number) {
  if (locked.size >= MEMO_LIMIT) {
    const now = Date.now();
    for (const [address, end] of locked) if (end <= now) locked.delete(address);
    if (locked.size >= MEMO_LIMIT) locked.clear();
  }
  locked.set(ip, until);
}

function lockedOut(waitMs: number) {
  const wait = secondsUntil(waitMs);
  return new GatewayError(429, `too many failed authentications from this address; retry in ${wait} s`, 'auth_rate_limited', {
    'Retry-After': String(wait),
  });
}

/** The client's network as the guard counts it (an IPv6 address's /64), when Cloudflare named the client. */
const clientIp = (c: Context<Env>) => {
  const address = c.req.header('cf-connecting-ip');
  return address ? guardedNetwork(address) : undefined;
};

/** Refuse at once an address this isolate already knows to be locked out. Call before any lookup. */
export function refuseKnownLockout(c: Context<Env>): void {
  if (locked.size === 0) return;
  const ip = clientIp(c);
  const until = ip === undefined ? undefined : locked.get(ip);
  if (until === undefined) return;
  const wait = until - Date.now();
  if (wait > 0) throw lockedOut(wait);
  locked.delete(ip!);
}

/**
 * After a credential was checked: a valid one passes (refuseKnownLockout has already refused a locked
 * address); an invalid one is counted, and answered with 429 instead of 401 once the address is over
 * the limit, or with 503 when it cannot be counted.
 */
export async function settleAuthentication(c: Context<Env>, valid: boolean): Promise<void> {
  // A valid credential costs no call: refuseKnownLockout has already checked this isolate's memo of
  // locked addresses, which every counted failure fills (the guard stays off the success path).
  if (valid) return;
  const ip = clientIp(c);
  if (ip === undefined) return;
  const settings = settingsOf(c.env);
  const [limit, windowMs] = [settings.AUTH_FAILURE_LIMIT, settings.AUTH_FAILURE_WINDOW_S * 1000];
  const verdict = await consultLimiter(c.env, `auth-ip:${ip}`, (limiter) => limiter.take(limit, windowMs), c.get('requestId'));
  logEvent(c.env, 'info', { requestId: c.get('requestId'), event: 'auth_failed', counted: verdict?.allowed ?? false });
  if (!verdict) {
    remember(ip, Date.now() + windowMs);
    const wait = secondsUntil(windowMs);
    throw new GatewayError(503, `failed authentications cannot be counted right now; retry in ${wait} s`, 'auth_guard_unavailable', {
      'Retry-After': String(wait),
    });
  }
  if (!verdict.allowed) {
    remember(ip, Date.now() + verdict.resetMs);
    throw lockedOut(verdict.resetMs);
  }
  if (verdict.remaining === 0) remember(ip, Date.now() + verdict.resetMs);
}
