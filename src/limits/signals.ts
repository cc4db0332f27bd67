// Routing signals: what the traffic that passes anyway says about each provider and key (time to first
// byte, tokens per second, error and rate-limit refusal rates, the provider's own headroom headers).
// Isolates report them in batches (src/forward/signals.ts); the KeyHealth object folds them into these
// tables and hands them back with the resting keys in one read. The math is shared by both sides.

/**
 * A time-decayed average: every sample's weight falls by a factor e each `windowMs`, so `value` is the
 * mean of recent samples, however they were batched, and `weight` how many recent samples back it.
 */
export interface Average {
  value: number;
  weight: number;
  /** When the last sample came (ms since the epoch). */
  at: number;
}

/** `avg` with `count` more samples whose sum is `sum`, taken at `at`. */
export function fold(avg: Average | null, sum: number, count: number, at: number, windowMs: number): Average | null {
  if (count <= 0) return avg;
  if (!avg) return { value: sum / count, weight: count, at };
  const kept = avg.weight * Math.exp(-Math.max(0, at - avg.at) / windowMs);
  const weight = kept + count;
  return { value: (avg.value * kept + sum) / weight, weight, at: Math.max(at, avg.at) };
}

/** What a provider said a key may still send (its rate-limit headers), and until when. */
export interface Headroom {
  requests?: number;
  requestsResetAt?: number;
  tokens?: number;
  tokensResetAt?: number;
  /** When the provider said it (ms since the epoch): the newer word wins. */
  at: number;
}

/** One isolate's observations of one key since its last report. */
export interface SignalReport {
  provider: string;
  /** Hex SHA-256 of the key. */
  keyId: string;
  at: number;
  attempts: number;
  errors: number;
  refusals: number;
  ttfbSum: number;
  ttfbCount: number;
  tpsSum: number;
  tpsCount: number;
  headroom?: Headroom;
}

export interface Signals {
  ttfbMs: Average | null;
  tokensPerSecond: Average | null;
  /** Share of attempts that failed on the provider's side (5xx, 408, a timeout, a network error). */
  errorRate: Average | null;
  /** Share of attempts refused with 429. */
  refusalRate: Average | null;
}

export interface SignalRow extends Signals {
  provider: string;
  /** Hex SHA-256 of the key; '' for the provider as a whole. */
  keyId: string;
  headroom: Headroom | null;
}

/** One chart point per provider and step. */
export interface SignalPoint {
  provider: string;
  at: number;
  ttfbMs: number | null;
  tokensPerSecond: number | null;
  errorRate: number | null;
  refusalRate: number | null;
}

export const emptySignals = (): Signals => ({ ttfbMs: null, tokensPerSecond: null, errorRate: null, refusalRate: null });

/** A report folded into a row (a key's, or its provider's). */
export function foldReport<T extends Signals>(row: T, report: Omit<SignalReport, 'provider' | 'keyId'>, windowMs: number): T {
  const at = report.at;
  return {
    ...row,
    ttfbMs: fold(row.ttfbMs, report.ttfbSum, report.ttfbCount, at, windowMs),
    tokensPerSecond: fold(row.tokensPerSecond, report.tpsSum, report.tpsCount, at, windowMs),
    errorRate: fold(row.errorRate, report.errors, report.attempts, at, windowMs),
    refusalRate: fold(row.refusalRate, report.refusals, report.attempts, at, windowMs),
  };
}

/** The newer of two headroom readings. */
export const newerHeadroom = (a: Headroom | null | undefined, b: Headroom | null | undefined): Headroom | null =>
  (!a ? b : !b ? a : b.at > a.at ? b : a) ?? null;

/** Points kept per provider for the charts. */
const POINTS_KEPT = 120;

/** Time between two chart points: a sixth of the averages' window, between 1 s and 1 min. */
const pointStep = (windowMs: number) => Math.min(60_000, Math.max(1_000, Math.round(windowMs / 6)));

/** The signal tables inside the KeyHealth object's SQLite, with the rows kept in memory once read. */
export class SignalTable {
  private rows?: Map<string, SignalRow>;
  private readonly lastPoint = new Map<string, number>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS signals (provider TEXT NOT NULL, key_id TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (provider, key_id))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS signal_points (provider TEXT NOT NULL, at INTEGER NOT NULL, point TEXT NOT NULL, PRIMARY KEY (provider, at))`);
  }

  private loaded(): Map<string, SignalRow> {
    this.rows ??= new Map(
      this.sql
        .exec<{ provider: string; key_id: string; row: string }>('SELECT provider, key_id, row FROM signals')
        .toArray()
        .map((r) => [`${r.provider}\n${r.key_id}`, JSON.parse(r.row) as SignalRow]),
    );
    return this.rows;
  }

  private put(row: SignalRow) {
    this.loaded().set(`${row.provider}\n${row.keyId}`, row);
    this.sql.exec('INSERT OR REPLACE INTO signals VALUES (?, ?, ?)', row.provider, row.keyId, JSON.stringify(row));
  }

  private row(provider: string, keyId: string): SignalRow {
    return this.loaded().get(`${provider}\n${keyId}`) ?? { provider, keyId, headroom: null, ...emptySignals() };
  }

  /** Fold an isolate's batch into each key's row and its provider's, and add chart points. */
  record(reports: SignalReport[], windowMs: number, now: number): void {
    const providers = new Set<string>();
    for (const report of reports) {
      const key = foldReport(this.row(report.provider, report.keyId), report, windowMs);
      this.put({ ...key, headroom: newerHeadroom(key.headroom, report.headroom) });
      this.put(foldReport(this.row(report.provider, ''), report, windowMs));
      providers.add(report.provider);
    }
    const step = pointStep(windowMs);
    for (const provider of providers) {
      if (now - (this.lastPoint.get(provider) ?? 0) < step) continue;
      this.lastPoint.set(provider, now);
      const row = this.row(provider, '');
      const point: SignalPoint = {
        provider,
        at: now,
        ttfbMs: row.ttfbMs?.value ?? null,
        tokensPerSecond: row.tokensPerSecond?.value ?? null,
        errorRate: row.errorRate?.value ?? null,
        refusalRate: row.refusalRate?.value ?? null,
      };
      this.sql.exec('INSERT OR REPLACE INTO signal_points VALUES (?, ?, ?)', provider, now, JSON.stringify(point));
      this.sql.exec('DELETE FROM signal_points WHERE provider = ? AND at < ?', provider, now - POINTS_KEPT * step);
    }
  }

  all(): SignalRow[] {
    return [...this.loaded().values()];
  }

  points(): SignalPoint[] {
    return this.sql
      .exec<{ point: string }>('SELECT point FROM signal_points ORDER BY at')
      .toArray()
      .map((r) => JSON.parse(r.point) as SignalPoint);
  }
}
