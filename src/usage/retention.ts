import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';

const DAY_MS = 86_400_000;

/**
 * Remove the usage records older than USAGE_RETENTION_DAYS (default 90) from D1: the records of
 * days before the first kept day. Run daily by the cron trigger (wrangler.jsonc).
 */
export async function removeExpiredRecords(env: Bindings, now = Date.now()): Promise<number> {
  const days = settingsOf(env).USAGE_RETENTION_DAYS;
  const firstKept = new Date(now - days * DAY_MS).toISOString().slice(0, 10);
  const result = await (await readyDb(env.DB)).prepare('DELETE FROM usage_records WHERE day < ?').bind(firstKept).run();
  const removed = result.meta.changes ?? 0;
  logEvent(env, 'info', { event: 'usage_retention', firstKept, removed });
  return removed;
}
