import { DurableObject } from 'cloudflare:workers';
import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { INSERT_RECORD_SQL, recordRow, type UsageRecord } from '../usage/record';
import { Gcra, type Verdict } from './gcra';

// One object per user (`user:<name>`): the only Durable Object call on a request's success path.
// `admit` gives the rate-limit verdict and reserves the request's budget in one call; `settle`, called
// after the answer (waitUntil), replaces the reservation by the actual usage and keeps the usage record
// in this object's SQLite until an alarm flushes the pending records to D1 in batches.
//
// What is in memory only, and lost when the object is evicted (after it has been idle a while): the
// rate limiter's one number (a user's burst starts over) and the open reservations (a request still
// streaming then settles its actual usage without one). What is durable: the spent totals per budget
// period and the records not yet in D1, both written by `settle`, never on the request path.

export interface AdmitRequest {
  /** Requests per minute; 0 = unlimited. */
  rpm: number;
  monthlyBudgetUsd?: number;
  dailyTokens?: number;
  /** What the request may cost at most (reserved until it settles); absent for routes that reach no provider. */
  reserve?: { usd: number; tokens: number };
}

export interface Admission {
  /** The rate-limit verdict (absent when rpm is 0). */
  rate?: Verdict;
  /** Set when the request is refused: which limit, and the seconds until it can pass. */
  refused?: { code: 'rate_limited' | 'insufficient_quota'; retryAfterS: number; message: string };
  /** The reservation to settle, when one was made. */
  reservation?: string;
}

export interface BudgetState {
  spentUsdThisMonth: number;
  usedTokensToday: number;
}

const MINUTE_MS = 60_000;
/** Where a user refused for a budget reads what is spent (that route is never refused for it). */
const SEE_USAGE = '; GET /v1/usage shows what is spent';
/** Records wait this long for company before a flush: one D1 batch carries every record of the period. */
export const FLUSH_DELAY_MS = 2_000;
/** Records per D1 batch (one statement each, one round trip). */
const FLUSH_BATCH = 100;
/** After a failed flush, the records stay pending and the next try is this much later. */
const FLUSH_RETRY_MS = 30_000;

interface Reservation {
  usd: number;
  tokens: number;
}

/** UTC period keys of a time: `YYYY-MM` and `YYYY-MM-DD`. */
export const periodsOf = (time: number | string) => {
  const iso = new Date(time).toISOString();
  return { month: iso.slice(0, 7), day: iso.slice(0, 10) };
};

/** Seconds from `now` to the start of the next UTC month or day. */
export function secondsToNextPeriod(period: 'month' | 'day', now: number): number {
  const d = new Date(now);
  const next = period === 'month' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}

export class UserMeter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private readonly limiter = new Gcra();
  private readonly reservations = new Map<string, Reservation>();
  private reservedUsd = 0;
  private reservedTokens = 0;
  /** Spent totals by period key, read from SQLite once per period and then kept here. */
  private readonly totals = new Map<string, { usd: number; tokens: number }>();
  private alarmSet = false;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS totals (period TEXT PRIMARY KEY, usd REAL NOT NULL, tokens INTEGER NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, record TEXT NOT NULL)');
  }

  /** The rate-limit verdict and the budget reservation of one request, decided together. */
  admit(request: AdmitRequest): Admission {
    const now = Date.now();
    const rate = request.rpm > 0 ? this.limiter.peek(request.rpm, MINUTE_MS, now) : undefined;
    if (rate && !rate.allowed) {
      const wait = Math.max(1, Math.ceil(rate.resetMs / 1000));
      return { rate, refused: { code: 'rate_limited', retryAfterS: wait, message: `may send ${request.rpm} requests per minute; retry in ${wait} s` } };
    }
    const { month, day } = periodsOf(now);
    // Budgets bound what reaches a provider: a request that reaches none (GET /v1/usage, the catalog)
    // is never refused for a spent budget, so a user can always read why they are refused.
    const budgeted = request.reserve !== undefined;
    if (budgeted && request.monthlyBudgetUsd !== undefined && this.total(`month:${month}`).usd + this.reservedUsd >= request.monthlyBudgetUsd) {
      const wait = secondsToNextPeriod('month', now);
      return {
        rate,
        refused: { code: 'insufficient_quota', retryAfterS: wait, message: `the monthly budget of ${request.monthlyBudgetUsd} USD is spent${SEE_USAGE}` },
      };
    }
    if (budgeted && request.dailyTokens !== undefined && this.total(`day:${day}`).tokens + this.reservedTokens >= request.dailyTokens) {
      const wait = secondsToNextPeriod('day', now);
      return {
        rate,
        refused: { code: 'insufficient_quota', retryAfterS: wait, message: `the daily allowance of ${request.dailyTokens} tokens is used up${SEE_USAGE}` },
      };
    }
    const counted = request.rpm > 0 ? this.limiter.take(request.rpm, MINUTE_MS, now) : undefined;
    if (!request.reserve) return { rate: counted };
    const reservation = crypto.randomUUID();
    this.reservations.set(reservation, request.reserve);
    this.reservedUsd += request.reserve.usd;
    this.reservedTokens += request.reserve.tokens;
    return { rate: counted, reservation };
  }

  /**
   * After the answer: the reservation (if any) is released and the record (if any) counted against
   * the budgets and kept until the next flush to D1. Both are durable once this returns.
   */
  async settle(reservation: string | undefined, record: UsageRecord | undefined): Promise<void> {
    if (reservation !== undefined) this.release(reservation);
    if (!record) return;
    const { month, day } = periodsOf(record.time);
    const usd = record.cost_usd ?? 0;
    // A cache hit spent no provider tokens: it counts toward neither budget.
    const tokens = record.cache === 'hit' ? 0 : record.input_tokens + record.output_tokens;
    const inserted = this.sql
      .exec('INSERT INTO pending (id, record) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id', record.id, JSON.stringify(record))
      .toArray();
    // A record settled twice (a retried waitUntil) counts once.
    if (inserted.length === 0) return;
    for (const period of [`month:${month}`, `day:${day}`]) {
      const total = this.total(period);
      total.usd += usd;
      total.tokens += tokens;
      this.sql.exec(
        'INSERT INTO totals (period, usd, tokens) VALUES (?, ?, ?) ON CONFLICT (period) DO UPDATE SET usd = usd + excluded.usd, tokens = tokens + excluded.tokens',
        period,
        usd,
        tokens,
      );
    }
    await this.scheduleFlush(FLUSH_DELAY_MS);
  }

  /** Spent this month and used today (settled requests only), for GET /v1/usage. */
  budget(): BudgetState {
    const { month, day } = periodsOf(Date.now());
    return { spentUsdThisMonth: this.total(`month:${month}`).usd, usedTokensToday: this.total(`day:${day}`).tokens };
  }

  /** What GET /v1/usage needs from this object: the budget spent and the records not yet in D1. */
  snapshot(): { budget: BudgetState; pending: UsageRecord[] } {
    return { budget: this.budget(), pending: this.pendingRecords() };
  }

  /** Records settled but not yet in D1. */
  pendingRecords(id?: string): UsageRecord[] {
    const rows =
      id === undefined
        ? this.sql.exec<{ record: string }>('SELECT record FROM pending')
        : this.sql.exec<{ record: string }>('SELECT record FROM pending WHERE id = ?', id);
    return rows.toArray().map((row) => JSON.parse(row.record) as UsageRecord);
  }

  /** Write the pending records to D1, a batch per call, until none is left. */
  override async alarm(): Promise<void> {
    this.alarmSet = false;
    const rows = this.sql.exec<{ id: string; record: string }>('SELECT id, record FROM pending ORDER BY rowid LIMIT ?', FLUSH_BATCH).toArray();
    if (rows.length === 0) return;
    try {
      const db = await readyDb(this.env.DB);
      const insert = db.prepare(INSERT_RECORD_SQL);
      await db.batch(rows.map((row) => insert.bind(...recordRow(JSON.parse(row.record) as UsageRecord))));
    } catch (err) {
      console.error(
        JSON.stringify({ level: 'error', event: 'usage_flush_failed', records: rows.length, reason: err instanceof Error ? err.message : String(err) }),
      );
      return this.scheduleFlush(FLUSH_RETRY_MS);
    }
    // INSERT OR IGNORE: a batch written again after a crash between the two steps adds nothing.
    this.sql.exec(`DELETE FROM pending WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(rows.map((row) => row.id)));
    if (rows.length === FLUSH_BATCH) await this.scheduleFlush(0);
  }

  private release(reservation: string) {
    const held = this.reservations.get(reservation);
    if (!held) return;
    this.reservations.delete(reservation);
    this.reservedUsd -= held.usd;
    this.reservedTokens -= held.tokens;
    if (this.reservations.size === 0) [this.reservedUsd, this.reservedTokens] = [0, 0];
  }

  private total(period: string) {
    let total = this.totals.get(period);
    if (!total) {
      const row = this.sql.exec<{ usd: number; tokens: number }>('SELECT usd, tokens FROM totals WHERE period = ?', period).toArray()[0];
      total = { usd: row?.usd ?? 0, tokens: row?.tokens ?? 0 };
      // Only the current periods are ever asked for: older ones leave the memo.
      if (this.totals.size >= 4) this.totals.clear();
      this.totals.set(period, total);
    }
    return total;
  }

  private async scheduleFlush(delayMs: number) {
    if (this.alarmSet && delayMs > 0) return;
    this.alarmSet = true;
    const at = await this.ctx.storage.getAlarm();
    if (at === null || delayMs === 0) await this.ctx.storage.setAlarm(Date.now() + delayMs);
  }
}
