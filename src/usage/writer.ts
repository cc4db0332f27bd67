import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { leaseBookOf } from '../limits/lease-book';
import type { LeaseRelease } from '../limits/lease-ledger';
import { settingsOf } from '../limits/settings';
import type { SettleBatch, UserMeter } from '../limits/user-meter';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { nextTurn } from '../turn';
import { INSERT_RECORD_SQL, recordRow, type UsageRecord } from './record';

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
 * A waiting request looks again this often, on a timer of its own: never resumed from the sending
 * request's context (workerd may cancel a request so resumed as hung: limits/lease-book.ts).
 */
const TICK_MS = 10;

type BatchState = 'open' | 'sending' | 'done';

interface Batch {
  items: Settlement[];
  state: BatchState;
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
  // Started once the answer was handed back (src/turn.ts says why).
  await nextTurn();
  const pipe = pipeOf(env, userId);
  const joined = pipe.open;
  if (joined && joined.items.length < BATCH_MAX) {
    joined.items.push(settlement);
    return waitFor(env, userId, pipe, joined);
  }
  const batch: Batch = { items: [settlement], state: 'open' };
  pipe.open = batch;
  return send(env, userId, pipe, batch);
}

/** Give the ends owed for this user's leases to the object now (a lease expired with nothing else to settle). */
export const sendLeaseEnds = (env: Bindings, userId: string): Promise<void> => settle(env, userId, {});

/** The batch's owner: waits for its turn, then sends it (creating the object's stub in its own context). */
async function send(env: Bindings, userId: string, pipe: Pipe, batch: Batch): Promise<void> {
  const settings = settingsOf(env);
  const giveUpAt = Date.now() + settings.STORE_TIMEOUT_MS * 2;
  // A clock that went back (a test's, or a corrected one) does not hold the settle: only a recent send does.
  const tooSoon = () => {
    const since = Date.now() - pipe.lastSentAt;
    return since >= 0 && since < settings.SETTLE_INTERVAL_MS;
  };
  while ((pipe.sending || tooSoon()) && batch.items.length < BATCH_MAX && Date.now() < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  if (pipe.open === batch) pipe.open = undefined;
  batch.state = 'sending';
  pipe.sending = true;
  pipe.lastSentAt = Date.now();
  const records = batch.items.flatMap((item) => (item.record ? [item.record] : []));
  const sent: SettleBatch = {
    records,
    releases: batch.items.flatMap((item) => (item.release ? [item.release] : [])),
    ends: leaseBookOf(env.USER_METER).takeEnds(userId),
  };
  try {
    if (records.length > 0 || sent.releases.length > 0 || sent.ends.length > 0) await toMeter(env, userId, sent);
  } finally {
    pipe.sending = false;
    batch.state = 'done';
  }
}

/** A member of someone else's batch: waits on timers of its own until the batch is done; takes it over if its owner went away. */
async function waitFor(env: Bindings, userId: string, pipe: Pipe, batch: Batch): Promise<void> {
  const settings = settingsOf(env);
  const takeOverAt = Date.now() + settings.SETTLE_INTERVAL_MS + settings.STORE_TIMEOUT_MS * 2 + 1_000;
  while (batch.state !== 'done') {
    if (batch.state === 'open' && Date.now() > takeOverAt) return send(env, userId, pipe, batch);
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
}

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
    const insert = db.prepare(INSERT_RECORD_SQL);
    await db.batch(records.map((record) => insert.bind(...recordRow(record))));
  } catch (err) {
    for (const record of records)
      logEvent(env, 'error', { requestId: record.id, event: 'usage_record_lost', reason: err instanceof Error ? err.message : String(err) });
  }
}
