// A rate limit kept as one number: the generic cell rate algorithm (GCRA). `limit` requests per
// `windowMs` are one request every windowMs / limit, with bursts of up to `limit` at once. The state
// is the theoretical arrival time (`tat`) of the next request, so a verdict costs the same and the
// memory stays one number whatever the limit: unlike a log of hits, nothing grows with `rpm`.
// Exact under concurrency: with a limit of 10, 50 simultaneous calls on a fresh limiter get exactly
// 10 `allowed`, since each call moves `tat` before the next one is looked at.

export interface Verdict {
  allowed: boolean;
  limit: number;
  /** Requests still allowed at once (the burst left). */
  remaining: number;
  /** When allowed: ms until the full burst is available again. When refused: ms until one is allowed. */
  resetMs: number;
}

export class Gcra {
  private tat = 0;

  /** Count one request if the limit allows it. */
  take(limit: number, windowMs: number, now: number): Verdict {
    return this.verdict(limit, windowMs, now, true);
  }

  /** Count `count` requests at once (a lease) if the limit allows all of them; the verdict is after them. */
  takeMany(limit: number, windowMs: number, now: number, count: number): Verdict {
    return this.verdict(limit, windowMs, now, true, count);
  }

  /** Requests counted but never used (the unused part of a lease): the limit is as if they had not been taken. */
  giveBack(limit: number, windowMs: number, now: number, count: number): void {
    this.tat = Math.max(now, this.tat - (count * windowMs) / limit);
  }

  /** The verdict `take` would give, without counting a request. */
  peek(limit: number, windowMs: number, now: number): Verdict {
    return this.verdict(limit, windowMs, now, false);
  }

  private verdict(limit: number, windowMs: number, now: number, count: boolean, requests = 1): Verdict {
    const interval = windowMs / limit;
    const start = Math.max(this.tat, now);
    const next = start + interval * requests;
    // Allowed while the requests not yet "paid back" fit in one window (at most `limit` of them).
    const allowed = next - now <= windowMs + 1e-6;
    if (allowed && count) this.tat = next;
    const held = (allowed && count ? next : start) - now;
    const remaining = Math.max(0, Math.floor((windowMs - held) / interval + 1e-9));
    const resetMs = allowed ? Math.ceil(held) : Math.ceil(next - windowMs - now);
    return { allowed, limit, remaining, resetMs: Math.max(0, resetMs) };
  }
}
