import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import { logEvent } from '../log';
import { Alert } from './alert';
import { alertSettings } from './settings';
import { recordAndClaim, recordAttempt } from './store';
import { postAlert } from './webhook';

// The ALERTS queue's consumer (the `queue` handler of src/index.ts). Each alert is recorded in D1
// under its key and posted only while that key is not delivered yet, so however often it was
// enqueued it reaches the webhook once (or again only if the webhook's answer was lost). A failed
// post is retried by the queue after a growing delay, until delivered or the queue's max_retries
// (wrangler.jsonc) run out; the row keeps the attempts and the last error for GET /admin/alerts.

/** The queue's delay before the next try: ALERT_RETRY_DELAY_S, doubled at each attempt, at most an hour. */
export const retryDelayS = (baseS: number, attempts: number) => Math.min(baseS * 2 ** Math.max(0, attempts - 1), 3600);

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function deliverAlerts(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const settings = alertSettings(env);
  if (!settings.webhookUrl) {
    // Enqueued while a webhook was set, delivered after it was removed: nothing is sent.
    logEvent(env, 'info', { event: 'alerts_dropped', messages: batch.messages.length, reason: settings.webhookError ?? 'ALERT_WEBHOOK_URL is not set' });
    batch.ackAll();
    return;
  }
  const webhook = { url: settings.webhookUrl, secret: settings.secret };
  let db: D1Database;
  try {
    db = await readyDb(env.DB);
  } catch (err) {
    logEvent(env, 'error', { event: 'alert_store_failed', reason: reasonOf(err) });
    for (const message of batch.messages) message.retry({ delaySeconds: retryDelayS(settings.retryDelayS, message.attempts) });
    return;
  }
  for (const message of batch.messages) {
    const parsed = Alert.safeParse(message.body);
    if (!parsed.success) {
      logEvent(env, 'error', { event: 'alert_invalid', id: message.id });
      message.ack();
      continue;
    }
    const alert = parsed.data;
    let error: string | undefined;
    let posted = false;
    try {
      if (!(await recordAndClaim(db, alert))) {
        message.ack();
        continue;
      }
      error = await postAlert(webhook, alert);
      posted = true;
      await recordAttempt(db, alert.key, error);
    } catch (err) {
      // D1 failed: unless the webhook took the alert, the queue brings it again.
      logEvent(env, 'error', { event: 'alert_store_failed', key: alert.key, reason: reasonOf(err) });
      if (!posted) error = `store: ${reasonOf(err)}`;
    }
    if (error === undefined) {
      logEvent(env, 'info', { event: 'alert_delivered', key: alert.key, attempt: message.attempts });
      message.ack();
    } else {
      const delaySeconds = retryDelayS(settings.retryDelayS, message.attempts);
      logEvent(env, 'info', { event: 'alert_post_failed', key: alert.key, attempt: message.attempts, reason: error, retryInS: delaySeconds });
      message.retry({ delaySeconds });
    }
  }
}
