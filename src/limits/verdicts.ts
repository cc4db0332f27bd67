import type { Bindings } from '../env';
import { logEvent } from '../log';
import type { RateLimiter, Verdict } from './rate-limiter';

export type { Verdict };

type Limiter = DurableObjectStub<RateLimiter>;

/**
 * Ask the limiter object `name` for a verdict. When the Durable Object cannot answer, the request is
 * let through (and the failure logged): the limiter protects budgets, it must not take the gateway down.
 */
export async function consultLimiter(
  env: Bindings,
  name: string,
  ask: (limiter: Limiter) => Promise<Verdict>,
  requestId?: string,
): Promise<Verdict | undefined> {
  try {
    return await ask(env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(name)));
  } catch (err) {
    logEvent(env, 'error', { requestId, event: 'rate_limiter_unavailable', reason: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/** Whole seconds, rounded up, never 0 for a wait. */
export const secondsUntil = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** `X-RateLimit-*` headers of a verdict; `X-RateLimit-Reset` is in seconds from now. */
export function rateLimitHeaders(verdict: Verdict): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(verdict.limit),
    'X-RateLimit-Remaining': String(verdict.remaining),
    'X-RateLimit-Reset': String(Math.ceil(verdict.resetMs / 1000)),
  };
}
