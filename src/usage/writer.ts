import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { settingsOf } from '../limits/settings';
import type { UserMeter } from '../limits/user-meter';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { nextTurn } from '../turn';
import { INSERT_RECORD_SQL, recordRow, type UsageRecord } from './record';

// Records travel from the request to D1 through the user's Durable Object: `settle` stores the
// record in the object's SQLite (durable when it returns) and an alarm writes the pending records of
// that user to D1 in batches. docs/architecture.md, "Usage records", says why.

/** The user's own object (by the user's stable id): rate limit, budget reservations, pending usage records. */
export const userMeter = (env: Bindings, userId: string): DurableObjectStub<UserMeter> => env.USER_METER.get(env.USER_METER.idFromName(`user:${userId}`));

/**
 * Settle a request: release its budget reservation (if any) and store its record (if any). When the
 * object cannot take it (an error, or no answer in time), the record goes straight to D1 (INSERT OR
 * IGNORE: a settle that did land after all is flushed onto it without a second row); the budget
 * totals then miss it. Failures are logged, never thrown: this runs after the answer, in waitUntil.
 */
export async function settleUsage(env: Bindings, userId: string, reservation: string | undefined, record: UsageRecord | undefined): Promise<void> {
  // Started once the answer was handed back (src/turn.ts says why).
  await nextTurn();
  for (let attempt = 1; ; attempt++) {
    try {
      return await withinMs(userMeter(env, userId).settle(reservation, record), settingsOf(env).STORE_TIMEOUT_MS);
    } catch (err) {
      if (attempt < 2) continue;
      logEvent(env, 'error', { requestId: record?.id, event: 'usage_settle_failed', reason: err instanceof Error ? err.message : String(err) });
      if (record) await writeToD1(env, record);
      return;
    }
  }
}

async function writeToD1(env: Bindings, record: UsageRecord): Promise<void> {
  try {
    const db = await readyDb(env.DB);
    await db
      .prepare(INSERT_RECORD_SQL)
      .bind(...recordRow(record))
      .run();
  } catch (err) {
    logEvent(env, 'error', { requestId: record.id, event: 'usage_record_lost', reason: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * Write one usage record (e.g. a response-cache hit: `cache: "hit"`, `cost_usd: 0`). Pass the
 * promise to `waitUntil`: it costs the answer nothing and the record is durable once it resolves.
 */
export const writeUsageRecord = (env: Bindings, record: UsageRecord): Promise<void> => settleUsage(env, record.user_id, undefined, record);
