import type { Answer, Dialect, Incoming } from './answer';

// Per-key rate limits on the stand-in, told and enforced as the real providers do: every answer on a
// limited key carries what remains of its requests and tokens and when they reset (OpenAI and Groq
// `x-ratelimit-*`, resets as durations such as `6m0s`, `1.5s`, `120ms`; Anthropic
// `anthropic-ratelimit-*`, resets as RFC 3339 instants), and a request that does not fit is refused
// with 429 and `retry-after` before it is served. A request counts like OpenAI counts it on arrival:
// its prompt at about 4 bytes a token plus its `max_tokens`. `headers: false` enforces a limit without
// telling it (the same load on a provider that reports nothing: the gateway can only go round-robin).

export interface KeyLimit {
  key: string;
  requests?: number;
  tokens?: number;
  /** A fixed window from the key's first request (default 60 s). */
  windowMs?: number;
  /** Report the limit in answer headers (default true). */
  headers?: boolean;
}

interface Window {
  start: number;
  requests: number;
  tokens: number;
}

export interface LimitVerdict {
  headers: Record<string, string>;
  /** Set when the request is refused: the 429 to send. */
  refusal?: Answer;
}

/** OpenAI's and Groq's reset format: `120ms`, `1.5s`, `6m0s`. */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Number(((ms - minutes * 60_000) / 1000).toFixed(3))}s`;
}

function maxTokensOf(json: Record<string, unknown> | undefined): number {
  const value = json?.max_tokens ?? json?.max_completion_tokens;
  return typeof value === 'number' && value > 0 ? value : 0;
}

export class KeyLimits {
  private readonly limits = new Map<string, KeyLimit>();
  private readonly windows = new Map<string, Window>();

  set(limit: KeyLimit) {
    if (!limit.key || (limit.requests === undefined && limit.tokens === undefined))
      throw new Error('a limit is {key, requests?, tokens?, windowMs?, headers?}');
    this.limits.set(limit.key, limit);
    this.windows.delete(limit.key);
  }

  clear() {
    this.limits.clear();
    this.windows.clear();
  }

  /** Count a request on its key: the headers its answer carries, and the refusal when it does not fit. */
  take(key: string, req: Incoming, dialect: 'openai' | 'anthropic', errorOf: Dialect['error'], now = Date.now()): LimitVerdict | undefined {
    const limit = this.limits.get(key);
    if (!limit) return undefined;
    const windowMs = limit.windowMs ?? 60_000;
    let window = this.windows.get(key);
    if (!window || now >= window.start + windowMs) this.windows.set(key, (window = { start: now, requests: 0, tokens: 0 }));
    const cost = Math.ceil(req.bytes.length / 4) + maxTokensOf(req.json);
    const overRequests = limit.requests !== undefined && window.requests + 1 > limit.requests;
    const overTokens = limit.tokens !== undefined && window.tokens + cost > limit.tokens;
    if (!overRequests && !overTokens) {
      window.requests++;
      window.tokens += cost;
    }
    const resetMs = window.start + windowMs - now;
    const headers = limit.headers === false ? {} : this.headersOf(limit, window, resetMs, dialect, now);
    if (!overRequests && !overTokens) return { headers };
    const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
    const [kind, max, used] = overRequests
      ? ['requests per minute (RPM)', limit.requests!, window.requests]
      : ['tokens per minute (TPM)', limit.tokens!, window.tokens];
    const message =
      dialect === 'openai'
        ? `Rate limit reached for model in organization \`org_standin\` on ${kind}: Limit ${max}, Used ${used}, Requested ${overRequests ? 1 : cost}. Please try again in ${durationText(resetMs)}.`
        : `This request would exceed your organization's rate limit of ${max} ${overRequests ? 'requests' : 'input tokens'} per minute.`;
    const refusal = errorOf(429, { retryAfter, message });
    return { headers, refusal: { ...refusal, headers: { ...refusal.headers, ...headers, 'retry-after': String(retryAfter) } } as Answer };
  }

  private headersOf(limit: KeyLimit, window: Window, resetMs: number, dialect: 'openai' | 'anthropic', now: number): Record<string, string> {
    const headers: Record<string, string> = {};
    const kinds: ['requests' | 'tokens', number | undefined, number][] = [
      ['requests', limit.requests, window.requests],
      ['tokens', limit.tokens, window.tokens],
    ];
    for (const [kind, max, used] of kinds) {
      if (max === undefined) continue;
      const remaining = String(Math.max(0, max - used));
      if (dialect === 'openai') {
        headers[`x-ratelimit-limit-${kind}`] = String(max);
        headers[`x-ratelimit-remaining-${kind}`] = remaining;
        headers[`x-ratelimit-reset-${kind}`] = durationText(resetMs);
      } else {
        // Anthropic reports its token limit as input tokens too (the tightest one is what counts).
        for (const name of kind === 'tokens' ? ['tokens', 'input-tokens'] : ['requests']) {
          headers[`anthropic-ratelimit-${name}-limit`] = String(max);
          headers[`anthropic-ratelimit-${name}-remaining`] = remaining;
          headers[`anthropic-ratelimit-${name}-reset`] = new Date(Math.ceil((now + resetMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
        }
      }
    }
    return headers;
  }
}
