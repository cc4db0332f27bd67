import type { Bindings } from '../env';
import { logEvent } from '../log';
import type { Alert } from './alert';
import { alertsOn } from './settings';

// The producers' side: alerts go to the ALERTS queue, whose consumer (deliver.ts) records and posts
// them. Producers call this off the request's path (a Durable Object after its answer, the cron) and
// may call it again for a condition already sent: the consumer sends each key once. Without a
// webhook nothing is enqueued.

/** Enqueue alerts; never throws: false when they could not be enqueued (logged), so a producer may try again. */
export async function queueAlerts(env: Pick<Bindings, 'ALERTS' | 'ALERT_WEBHOOK_URL' | 'DEBUG'>, alerts: Alert[]): Promise<boolean> {
  if (alerts.length === 0 || !alertsOn(env)) return true;
  try {
    await env.ALERTS.sendBatch(alerts.map((body) => ({ body, contentType: 'json' })));
    return true;
  } catch (err) {
    logEvent(env, 'error', { event: 'alert_enqueue_failed', keys: alerts.map((a) => a.key), reason: err instanceof Error ? err.message : String(err) });
    return false;
  }
}
