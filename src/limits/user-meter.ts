import { DurableObject } from 'cloudflare:workers';
import { BudgetWatch } from '../alerts/budget';
import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { INSERT_RECORDS_SQL, recordsParam, type UsageRecord } from '../usage/record';
import { LeaseLedger, type LeaseEnd, type LeaseGrant, type LeaseRelease, type LeaseRequest } from './lease-ledger';

// One object per user (`user:<id>`). It grants leases (lease-ledger.ts): requests taken from the
// rate limit and slices of the budgets, against which isolates admit requests with no call; and it
// takes settles (usage/writer.ts): batches of usage records counted against the budgets, the
// reservations they release, the leases given back. The records stay in this object's SQLite until an
// alarm flushes them to D1 in batches. A settle's records are kept as one row (its batch, by the id
// the isolate gave it): one row and one JSON text per batch, where a row per record cost ~20 µs of
// CPU each (bench/hot-path.ts, "settle").
//
// What is in memory only, and lost when the object is evicted (after it has been idle a while): the
// rate limiter's one number (a user's burst starts over) and the leases (what isolates give back later
// is ignored). What is durable: the spent totals per budget period and the records not yet in D1, both
// written by `settle`, never on a request's path.

export interface BudgetState {
  spentUsdThisMonth: number;
  usedTokensToday: number;
}

/** One settle: records of requests that ended, the lease reservations they release, leases given back (in that order). */
export interface SettleBatch {
  /** Given by the isolate, the same when it sends the batch again: a retried settle is kept and counted once. */
  id: string;
  records: UsageRecord[];
  releases: LeaseRelease[];
  ends: LeaseEnd[];
}

/** Records wait this long for company before a flush: one D1 batch carries every record of the period. */
export const FLUSH_DELAY_MS = 2_000;
/** Records per D1 write, at most (whole settle batches; one larger batch goes alone): one statement, its one value about 0.5 KiB a record (D1 takes values up to 2 MB). */
const FLUSH_RECORDS = 500;
/** Settle batches looked at per flush: enough to fill FLUSH_RECORDS with batches of single records. */
const FLUSH_ROWS = FLUSH_RECORDS;
/** After a failed flush, the records stay pending and the next try is this much later. */
const FLUSH_RETRY_MS = 30_000;

/** UTC period keys of a time: `YYYY-MM` and `YYYY-MM-DD`. */
export const periodsOf = (time: number | string) => {
  const iso = new Date(time).toISOString();
  return { month: iso.slice(0, 7), day: iso.slice(0, 10) };
};

/**
 * Records an object kept one row each (before settle batches were kept whole) move into batch rows of
 * one, once, so that the flush finds them; the old table goes. An object that never had it skips this.
 */
function keepLegacyPending(sql: SqlStorage) {
  const legacy = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'").toArray().length > 0;
  if (!legacy) return;
  sql.exec("INSERT OR IGNORE INTO pending_batches (id, records, count) SELECT id, '[' || record || ']', 1 FROM pending ORDER BY rowid");
  sql.exec('DROP TABLE pending');
}

export class UserMeter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private readonly ledger = new LeaseLedger();
  /** Spent totals by period key, read from SQLite once per period and then kept here. */
  private readonly totals = new Map<string, { usd: number; tokens: number }>();
  private alarmSet = false;
  /** Budget alerts at 50 / 80 / 100 % (src/alerts/budget.ts): the latest limits, the thresholds queued. */
  private readonly budgetWatch = new BudgetWatch();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS totals (period TEXT PRIMARY KEY, usd REAL NOT NULL, tokens INTEGER NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS pending_batches (id TEXT PRIMARY KEY, records TEXT NOT NULL, count INTEGER NOT NULL)');
    keepLegacyPending(this.sql);
  }

  /** A lease for the asking request and the ones after it in the same isolate, or the asking request's refusal. */
  lease(request: LeaseRequest): LeaseGrant {
    this.budgetWatch.setLimits(request);
    const { usd, tokens } = this.spentAt(Date.now());
    return this.ledger.grant(request, { usd, tokens }, Date.now(), () => crypto.randomUUID());
  }

  /**
   * Requests that ended: each record is counted against the budgets and kept until the next flush to
   * D1, the reservations are released and the leases given back. Durable once this returns.
   */
  async settle(batch: SettleBatch): Promise<void> {
    // Each period's total is written once per batch, with what the batch's new records add to it.
    const added = new Map<string, { usd: number; tokens: number }>();
    const records = this.keep(batch);
    for (const record of records) {
      const { month, day } = periodsOf(record.time);
      const usd = record.cost_usd ?? 0;
      // A cache hit spent no provider tokens: it counts toward neither budget.
      const tokens = record.cache === 'hit' ? 0 : record.input_tokens + record.output_tokens;
      for (const period of [`month:${month}`, `day:${day}`]) {
        const sum = added.get(period) ?? { usd: 0, tokens: 0 };
        sum.usd += usd;
        sum.tokens += tokens;
        added.set(period, sum);
      }
    }
    for (const [period, sum] of added) {
      const total = this.total(period);
      total.usd += sum.usd;
      total.tokens += sum.tokens;
      this.sql.exec(
        'INSERT INTO totals (period, usd, tokens) VALUES (?, ?, ?) ON CONFLICT (period) DO UPDATE SET usd = usd + excluded.usd, tokens = tokens + excluded.tokens',
        period,
        sum.usd,
        sum.tokens,
      );
    }
    for (const release of batch.releases) this.ledger.settle(release);
    for (const end of batch.ends) this.ledger.end(end, Date.now());
    const last = records.at(-1);
    if (!last) return;
    this.ctx.waitUntil(this.budgetWatch.settled(this.env, { id: last.user_id, name: last.user }, this.spentAt(last.time)));
    await this.scheduleFlush(FLUSH_DELAY_MS);
  }

  /** Leases open and what they hold, for tests. */
  leases() {
    return this.ledger.reserved;
  }

  /**
   * The batch's records into the pending ones, as one row; the records to count: none when the batch
   * was kept before (a retried settle), and a record twice in the batch once.
   */
  private keep(batch: SettleBatch): UsageRecord[] {
    const records = [...new Map(batch.records.map((record) => [record.id, record])).values()];
    if (records.length === 0) return records;
    const kept = this.sql.exec(
      'INSERT INTO pending_batches (id, records, count) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      batch.id,
      JSON.stringify(records),
      records.length,
    );
    return kept.rowsWritten > 0 ? records : [];
  }

  /** Spent this month and used today (settled requests only), for GET /v1/usage. */
  budget(): BudgetState {
    const { usd, tokens } = this.spentAt(Date.now());
    return { spentUsdThisMonth: usd, usedTokensToday: tokens };
  }

  /** What GET /v1/usage needs from this object: the budget spent and the records not yet in D1. */
  snapshot(): { budget: BudgetState; pending: UsageRecord[] } {
    return { budget: this.budget(), pending: this.pendingRecords() };
  }

  /** Records settled but not yet in D1. */
  pendingRecords(id?: string): UsageRecord[] {
    if (id !== undefined) {
      const rows = this.sql.exec<{ record: string }>(
        "SELECT value AS record FROM pending_batches, json_each(pending_batches.records) WHERE json_extract(value, '$.id') = ? LIMIT 1",
        id,
      );
      return rows.toArray().map((row) => JSON.parse(row.record) as UsageRecord);
    }
    const rows = this.sql.exec<{ records: string }>('SELECT records FROM pending_batches ORDER BY rowid').toArray();
    return rows.flatMap((row) => JSON.parse(row.records) as UsageRecord[]);
  }

  /** Write the pending records to D1, whole batches up to FLUSH_RECORDS per call, until none is left. */
  override async alarm(): Promise<void> {
    this.alarmSet = false;
    const rows = this.sql
      .exec<{ id: string; records: string; count: number }>('SELECT id, records, count FROM pending_batches ORDER BY rowid LIMIT ?', FLUSH_ROWS)
      .toArray();
    if (rows.length === 0) return;
    const taken = [rows[0]!];
    let records = rows[0]!.count;
    for (const row of rows.slice(1)) {
      if (records + row.count > FLUSH_RECORDS) break;
      taken.push(row);
      records += row.count;
    }
    try {
      const db = await readyDb(this.env.DB);
      const pending = taken.flatMap((row) => JSON.parse(row.records) as UsageRecord[]);
      await db.batch([db.prepare(INSERT_RECORDS_SQL).bind(recordsParam(pending))]);
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', event: 'usage_flush_failed', records, reason: err instanceof Error ? err.message : String(err) }));
      return this.scheduleFlush(FLUSH_RETRY_MS);
    }
    // INSERT OR IGNORE: a batch written again after a crash between the two steps adds nothing.
    this.sql.exec(`DELETE FROM pending_batches WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(taken.map((row) => row.id)));
    if (taken.length < rows.length || rows.length === FLUSH_ROWS) await this.scheduleFlush(0);
  }

  /** What was spent in the month and used on the day of `time`, with those periods. */
  private spentAt(time: number | string) {
    const { month, day } = periodsOf(time);
    return { month, day, usd: this.total(`month:${month}`).usd, tokens: this.total(`day:${day}`).tokens };
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
