import type { MiddlewareHandler } from 'hono';
import type { Env } from '../env';
import { settingsOf } from '../limits/settings';
import { consultLimiter, rateLimitHeaders, secondsUntil } from '../limits/verdicts';
import { GatewayError } from '../errors';

const MINUTE_MS = 60_000;

/**
 * The user's requests per minute (`rpm`, else DEFAULT_RPM), counted in the user's own Durable Object
 * before anything else is done for the request. Every answer carries `X-RateLimit-*`; a refusal is a
 * 429 with `Retry-After`. Runs after user auth (it needs `userName`).
 */
export const userRateLimit: MiddlewareHandler<Env> = async (c, next) => {
  const userName = c.get('userName');
  const rpm = c.get('user').rpm ?? settingsOf(c.env).DEFAULT_RPM;
  if (rpm === 0) return next();
  const verdict = await consultLimiter(c.env, `user:${userName}`, (limiter) => limiter.take(rpm, MINUTE_MS), c.get('requestId'));
  if (!verdict) return next();
  const headers = rateLimitHeaders(verdict);
  if (!verdict.allowed) {
    const wait = secondsUntil(verdict.resetMs);
    throw new GatewayError(429, `rate limit reached: user "${userName}" may send ${rpm} requests per minute; retry in ${wait} s`, 'rate_limited', {
      ...headers,
      'Retry-After': String(wait),
    });
  }
  // Set before the answer exists, they are merged into it once; set after, each `c.header` copies it.
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  try {
    await next();
  } catch (err) {
    // Errors thrown past this point (inside a combined middleware) keep the rate-limit headers.
    if (err instanceof GatewayError) throw new GatewayError(err.status, err.message, err.code, { ...headers, ...err.headers });
    throw err;
  }
};
