import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../env';

// A sliding-window log in SQLite: one row per counted hit. A verdict is computed by synchronous SQL
// calls with no await in between, so concurrent calls to one object are served one after the other:
// with a limit of 10, 50 simultaneous calls get exactly 10 `allowed`.

export interface Verdict {
  allowed: boolean;
  limit: number;
  /** Hits still allowed in the current window. */
  remaining: number;
  /** Milliseconds until a hit leaves the window (and, when refused, until one will be allowed). */
  resetMs: number;
}

export class RateLimiter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /**
   * Rows in `hits`, counted once when the object starts and then kept here (this object is the table's
   * only writer), so a verdict never scans the window: with a high `rpm` it holds tens of thousands of
   * hits, and a scan per request made the object the gateway's bottleneck (bench/, docs/benchmarks.md).
   */
  private rows: number | undefined;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS hits (at INTEGER NOT NULL)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS hits_by_time ON hits (at)');
  }

  /** Count one hit if fewer than `limit` hits fell within the last `windowMs`. */
  take(limit: number, windowMs: number): Verdict {
    return this.verdict(limit, windowMs, true);
  }

  /** The verdict `take` would give, without counting a hit. */
  peek(limit: number, windowMs: number): Verdict {
    return this.verdict(limit, windowMs, false);
  }

  private verdict(limit: number, windowMs: number, count: boolean): Verdict {
    const now = Date.now();
    const expired = this.sql.exec('DELETE FROM hits WHERE at <= ? RETURNING at', now - windowMs).toArray().length;
    const n = this.rows === undefined ? this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM hits').one().n : this.rows - expired;
    const allowed = n < limit;
    if (allowed && count) this.sql.exec('INSERT INTO hits (at) VALUES (?)', now);
    const used = allowed && count ? n + 1 : n;
    this.rows = used;
    if (used === 0) return { allowed, limit, remaining: limit, resetMs: 0 };
    // When refused, a hit is allowed again once the hit that keeps the count at the limit leaves the window.
    const offset = allowed ? 0 : n - limit;
    const { at } = this.sql.exec<{ at: number }>('SELECT at FROM hits ORDER BY at LIMIT 1 OFFSET ?', offset).one();
    return { allowed, limit, remaining: Math.max(0, limit - used), resetMs: Math.max(0, at + windowMs - now) };
  }
}
