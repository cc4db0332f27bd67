import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { leaseBookOf } from '../limits/lease-book';
import type { LeaseRelease } from '../limits/lease-ledger';
import { settingsOf } from '../limits/settings';
import type { SettleBatch, UserMeter } from '../limits/user-meter';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { nextTurn } from '../turn';
import { INSERT_RECORDS_SQL, recordsParam, type UsageRecord } from './record';

// Records travel from the request to D1 through the user's Durable Object: a settle stores them in
// the object's SQLite (durable when it returns) and an alarm writes the pending records of that user
// to D1 in batches. docs/architecture.md, "Usage records" and "Leases", says why.
//
// Settles are batched per user and isolate: the first one goes at once; while one is on its way, or
// within SETTLE_INTERVAL_MS of the last, the next requests' records gather and go together. Each
// request's waitUntil lasts until its own record is durable, so an isolate that ends after that loses
// nothing; one that is killed before it is covered by nothing, as before batching.

/** The user's own object (by the user's stable id): rate limit, leases, pending usage records. */
export const userMeter = (env: Bindings, userId: string): DurableObjectStub<UserMeter> => env.USER_METER.get(env.USER_METER.idFromName(`user:${userId}`));

/** What one request has to settle: its record, and the reservation its lease releases. */
export interface Settlement {
  record?: UsageRecord;
  release?: LeaseRelease;
}

/** Records per settle at most: a batch this full goes without waiting for the interval. */
const BATCH_MAX = 200;
/**
 * How long a request waits between looks at a batch that is due or on its way. Waits are timers of
 * each request's own: a request is never resumed from the sending request's context (workerd may
 * cancel a request so resumed as hung: limits/lease-book.ts). A request sleeps once until its batch is
 * due, then looks this often (doubling, up to MAX_TICK_MS) until the batch returned: a few timers per
 * request, where one look every 10 ms cost a hundred per request at SETTLE_INTERVAL_MS 1 s.
 */
const TICK_MS = 10;
const MAX_TICK_MS = 160;

type BatchState = 'open' | 'sending' | 'done';

interface Batch {
  items: Settlement[];
  state: BatchState;
  /** When it leaves: SETTLE_INTERVAL_MS after the last send, or at once when full. */
  dueAt: number;
}

interface Pipe {
  open?: Batch;
  sending: boolean;
  lastSentAt: number;
}

const pipes = new WeakMap<object, Map<string, Pipe>>();

function pipeOf(env: Bindings, userId: string): Pipe {
  let users = pipes.get(env.USER_METER);
  if (!users) pipes.set(env.USER_METER, (users = new Map()));
  let pipe = users.get(userId);
  if (!pipe) users.set(userId, (pipe = { sending: false, lastSentAt: 0 }));
  return pipe;
}

/**
 * Settle a request with its user's object, batched with the other requests of this isolate; resolves
 * once it is durable (or, when the object could not take it, once its record went to D1 directly).
 * Failures are logged, never thrown: this runs after the answer, in waitUntil.
 */
export async function settle(env: Bindings, userId: string, settlement: Settlement): Promise<void> {
  const pipe = pipeOf(env, userId);
  const joined = pipe.open;
  if (joined && joined.items.length < BATCH_MAX) {
    joined.items.push(settlement);
    // The request that fills a batch sends it.
    if (joined.items.length < BATCH_MAX) return takePart(env, userId, pipe, joined, TICK_MS);
    joined.dueAt = Date.now();
    return takePart(env, userId, pipe, joined, 0);
  }
  const now = Date.now();
  const since = now - pipe.lastSentAt;
  // A clock that went back (a test's, or a corrected one) does not hold the settle: only a recent send does.
  const interval = settingsOf(env).SETTLE_INTERVAL_MS;
  const batch: Batch = { items: [settlement], state: 'open', dueAt: since >= 0 && since < interval ? pipe.lastSentAt + interval : now };
  pipe.open = batch;
  return takePart(env, userId, pipe, batch, 0);
}

/** Give the ends owed for this user's leases to the object now (a lease expired with nothing else to settle). */
export const sendLeaseEnds = (env: Bindings, userId: string): Promise<void> => settle(env, userId, {});

/**
 * One request's part in a batch, until the batch returned. Whoever finds it due and the pipe free
 * sends it (creating the object's stub in its own context): its first member, which wakes at `dueAt`
 * (`lag` 0), or else a later one, which wakes `lag` after, so a batch whose first member went away
 * still leaves. The first send waits a turn (src/turn.ts says why).
 */
async function takePart(env: Bindings, userId: string, pipe: Pipe, batch: Batch, lag: number): Promise<void> {
  const giveUpAt = batch.dueAt + settingsOf(env).STORE_TIMEOUT_MS * 2;
  let tick = TICK_MS;
  for (;;) {
    if (batch.state === 'done') return;
    const now = Date.now();
    if (batch.state === 'open') {
      const due = batch.dueAt + lag - now;
      if (due <= 0 && (!pipe.sending || now >= giveUpAt)) return send(env, userId, pipe, batch);
      if (due > 0) {
        await sleep(due);
        continue;
      }
    }
    await sleep(tick);
    tick = Math.min(tick * 2, MAX_TICK_MS);
  }
}

async function send(env: Bindings, userId: string, pipe: Pipe, batch: Batch): Promise<void> {
  if (pipe.open === batch) pipe.open = undefined;
  batch.state = 'sending';
  pipe.sending = true;
  pipe.lastSentAt = Date.now();
  try {
    // Started once the answer was handed back.
    await nextTurn();
    const records = batch.items.flatMap((item) => (item.record ? [item.record] : []));
    const sent: SettleBatch = {
      id: crypto.randomUUID(),
      records,
      releases: batch.items.flatMap((item) => (item.release ? [item.release] : [])),
      ends: leaseBookOf(env.USER_METER).takeEnds(userId),
    };
    if (records.length > 0 || sent.releases.length > 0 || sent.ends.length > 0) await toMeter(env, userId, sent);
  } finally {
    pipe.sending = false;
    batch.state = 'done';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One settle call (tried twice); when the object cannot take it, the records go straight to D1 and the budget totals miss them. */
async function toMeter(env: Bindings, userId: string, batch: SettleBatch): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withinMs(userMeter(env, userId).settle(batch), settingsOf(env).STORE_TIMEOUT_MS);
    } catch (err) {
      if (attempt < 2) continue;
      logEvent(env, 'error', { event: 'usage_settle_failed', records: batch.records.length, reason: err instanceof Error ? err.message : String(err) });
      if (batch.records.length > 0) await writeToD1(env, batch.records);
      return;
    }
  }
}

/** INSERT OR IGNORE: a settle that did land after all is flushed onto these rows without a second one. */
async function writeToD1(env: Bindings, records: UsageRecord[]): Promise<void> {
  try {
    const db = await readyDb(env.DB);
    await db.batch([db.prepare(INSERT_RECORDS_SQL).bind(recordsParam(records))]);
  } catch (err) {
    for (const record of records)
      logEvent(env, 'error', { requestId: record.id, event: 'usage_record_lost', reason: err instanceof Error ? err.message : String(err) });
  }
}
