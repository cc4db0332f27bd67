import { env as testEnv } from 'cloudflare:test';
import type { Alert } from '../../../src/alerts/alert';
import type { Bindings } from '../../../src/env';

/** A webhook URL on a host the tests' mocked fetch answers (never reached: fetch is replaced). */
export const WEBHOOK_URL = 'https://hooks.example.test/services/T000/B000/webhook-secret-path';
export const WEBHOOK_SECRET = 'test-alert-signing-secret';

/**
 * A queue producer that keeps what it is sent: what an alert producer enqueued, checked before any
 * consumer runs (the consumer is tested on its own, and end to end with wrangler dev's real queue).
 */
export function recordingQueue(options: { fail?: boolean } = {}) {
  const sent: Alert[] = [];
  const queue = {
    async send(body: Alert) {
      if (options.fail) throw new Error('queue unavailable');
      sent.push(body);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<Alert>>) {
      if (options.fail) throw new Error('queue unavailable');
      for (const message of messages) sent.push(message.body);
    },
  };
  return { sent, queue: queue as unknown as Queue<Alert> };
}

/** The test bindings with alerts on (and any other vars). */
export function alertEnv(vars: Partial<Bindings> = {}): Bindings {
  return { ...(testEnv as unknown as Bindings), ALERT_WEBHOOK_URL: WEBHOOK_URL, ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET, ...vars };
}
