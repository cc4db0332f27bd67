// When an upstream answer may be replayed, and how long a key should rest afterwards.

/**
 * Upstream statuses after which the same request may be replayed with another key or provider:
 * auth failures (a revoked key), 402 (the key's account is out of credit), timeouts, rate limits and
 * server errors. Other 4xx are the client's.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 401 || status === 402 || status === 403 || status === 408 || status === 429 || status >= 500;
}

/** Longest rest a provider's hint can impose on a key. */
export const MAX_COOLDOWN_MS = 15 * 60_000;

/** Seconds (`120`) or an HTTP date, as in `Retry-After`. */
function retryAfterMs(value: string, now: number): number | undefined {
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date - now;
}

/** OpenAI/Groq reset durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or bare seconds. */
export function durationMs(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * units[unit!]!, 0);
}

/** Anthropic resets are RFC 3339 instants. */
export function instantMs(value: string, now: number): number | undefined {
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at - now;
}

const RESET_HEADERS: { reset: string; remaining: string; parse: (value: string, now: number) => number | undefined }[] = [
  ...['requests', 'tokens'].map((kind) => ({ reset: `x-ratelimit-reset-${kind}`, remaining: `x-ratelimit-remaining-${kind}`, parse: durationMs })),
  ...['requests', 'tokens', 'input-tokens', 'output-tokens'].map((kind) => ({
    reset: `anthropic-ratelimit-${kind}-reset`,
    remaining: `anthropic-ratelimit-${kind}-remaining`,
    parse: instantMs,
  })),
];

/**
 * How long the provider asks the key to wait, from `retry-after-ms`, `Retry-After`, or the reset of
 * the exhausted limit (`x-ratelimit-reset-*`, `anthropic-ratelimit-*-reset`); undefined without a hint.
 */
export function providerWaitMs(headers: Headers, now = Date.now()): number | undefined {
  const clamp = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_COOLDOWN_MS));
  const precise = headers.get('retry-after-ms');
  if (precise !== null && /^\s*\d+(\.\d+)?\s*$/.test(precise)) return clamp(Number(precise));
  const retryAfter = headers.get('retry-after');
  if (retryAfter !== null) {
    const ms = retryAfterMs(retryAfter, now);
    if (ms !== undefined) return clamp(ms);
  }
  const resets = RESET_HEADERS.flatMap(({ reset, remaining, parse }) => {
    const value = headers.get(reset);
    const ms = value === null ? undefined : parse(value, now);
    return ms === undefined ? [] : [{ ms, exhausted: headers.get(remaining)?.trim() === '0' }];
  });
  // The limits that ran out decide (all of them must reset); without `remaining` headers, the soonest reset.
  const exhausted = resets.filter((r) => r.exhausted).map((r) => r.ms);
  if (exhausted.length > 0) return clamp(Math.max(...exhausted));
  return resets.length === 0 ? undefined : clamp(Math.min(...resets.map((r) => r.ms)));
}

/**
 * Exponential backoff with jitter: `base` doubled per consecutive failure, capped, then scaled by a
 * random factor in [0.5, 1) so that keys (and isolates) that failed together do not retry together.
 */
export function backoffMs(failures: number, base: number, cap: number, random = Math.random): number {
  return Math.min(cap, base * 2 ** Math.max(0, failures - 1)) * (0.5 + random() / 2);
}
