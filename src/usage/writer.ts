import type { Bindings } from '../env';
import type { UserMeter } from '../limits/user-meter';
import { logEvent } from '../log';
import { nextTurn } from '../turn';
import type { UsageRecord } from './record';

// Records travel from the request to D1 through the user's Durable Object: `settle` stores the
// record in the object's SQLite (durable when it returns) and an alarm writes the pending records of
// that user to D1 in batches. docs/architecture.md, "Usage records", says why.

/** The user's own object: rate limit, budget reservations, pending usage records. */
export const userMeter = (env: Bindings, userName: string): DurableObjectStub<UserMeter> => env.USER_METER.get(env.USER_METER.idFromName(`user:${userName}`));

/**
 * Settle a request: release its budget reservation (if any) and store its record (if any). Failures
 * are logged, never thrown: this runs after the answer, in waitUntil.
 */
export async function settleUsage(env: Bindings, userName: string, reservation: string | undefined, record: UsageRecord | undefined): Promise<void> {
  // Started once the answer was handed back (src/turn.ts says why).
  await nextTurn();
  for (let attempt = 1; ; attempt++) {
    try {
      return await userMeter(env, userName).settle(reservation, record);
    } catch (err) {
      if (attempt < 2) continue;
      logEvent(env, 'error', { requestId: record?.id, event: 'usage_settle_failed', reason: err instanceof Error ? err.message : String(err) });
      return;
    }
  }
}

/**
 * Write one usage record (e.g. a response-cache hit: `cache: "hit"`, `cost_usd: 0`). Pass the
 * promise to `waitUntil`: it costs the answer nothing and the record is durable once it resolves.
 */
export const writeUsageRecord = (env: Bindings, record: UsageRecord): Promise<void> => settleUsage(env, record.user, undefined, record);
