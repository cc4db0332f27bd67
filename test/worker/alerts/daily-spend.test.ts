import { createScheduledController, env as testEnv } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Bindings } from '../../../src/env';
import worker from '../../../src/index';
import { INSERT_RECORDS_SQL, recordsParam, type UsageRecord } from '../../../src/usage/record';
import { alertEnv, recordingQueue } from '../helpers/alerts';

// The day's spend over ALERT_DAILY_SPEND_USD: checked by the 5-minute cron from the usage records in
// D1, enqueued once per day and threshold, never without a webhook or a threshold.

const FIVE_MINUTES = '*/5 * * * *';
let serial = 0;

/** Records on a day of their own (far ahead, so no other test's records count), costing `costs` USD. */
async function spend(day: string, costs: (number | null)[]) {
  const record = (cost: number | null): UsageRecord => ({
    id: `spend-${day}-${serial++}`,
    client_request_id: null,
    time: `${day}T09:00:00.000Z`,
    user_id: 'u',
    user: 'u',
    route: 'proxy',
    operation: 'chat/completions',
    provider: 'groq',
    model: 'm',
    status: 200,
    stream: false,
    attempts: 1,
    input_tokens: 10,
    output_tokens: 10,
    cached_input_tokens: 0,
    usage_source: 'provider',
    cost_usd: cost,
    latency_ms: 1,
    first_byte_ms: 1,
    cache: 'none',
    error_code: null,
    saved_usd: null,
  });
  await testEnv.DB.prepare(INSERT_RECORDS_SQL)
    .bind(recordsParam(costs.map((cost) => record(cost))))
    .run();
}

const runCron = (env: Bindings, day: string, cron = FIVE_MINUTES) =>
  worker.scheduled(createScheduledController({ cron, scheduledTime: Date.parse(`${day}T12:00:00Z`) }), env);

describe('daily spend alert', () => {
  it('enqueues once the day reaches the threshold, with the day, the spend and the threshold', async () => {
    const day = '2091-03-04';
    const { sent, queue } = recordingQueue();
    const env = alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: '50' });
    await spend(day, [20, 29.5, null]);
    await runCron(env, day);
    expect(sent).toEqual([]);
    await spend(day, [0.5]);
    await runCron(env, day);
    expect(sent).toEqual([{ kind: 'daily_spend', key: `daily_spend:${day}:50`, time: `${day}T12:00:00.000Z`, day, spentUsd: 50, thresholdUsd: 50 }]);
  });

  it('is not enqueued again once delivered; a new threshold is a new alert', async () => {
    const day = '2091-03-05';
    await spend(day, [80]);
    await testEnv.DB.prepare("INSERT INTO alerts (key, kind, time, alert, attempts, delivered_at) VALUES (?, 'daily_spend', ?, '{}', 1, ?)")
      .bind(`daily_spend:${day}:50`, `${day}T10:00:00.000Z`, `${day}T10:00:01.000Z`)
      .run();
    const { sent, queue } = recordingQueue();
    await runCron(alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: '50' }), day);
    expect(sent).toEqual([]);
    await runCron(alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: '75' }), day);
    expect(sent.map((a) => a.key)).toEqual([`daily_spend:${day}:75`]);
  });

  it('nothing without a webhook or without a threshold', async () => {
    const day = '2091-03-06';
    await spend(day, [500]);
    const { sent, queue } = recordingQueue();
    await runCron(alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: '50', ALERT_WEBHOOK_URL: undefined }), day);
    await runCron(alertEnv({ ALERTS: queue }), day);
    await runCron(alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: 'fifty' }), day);
    expect(sent).toEqual([]);
  });

  // The daily run checks the secrets with zxcvbn, whose word lists take seconds to load on a busy machine.
  it('the daily retention run does not check the spend', { timeout: 30_000 }, async () => {
    const day = '2091-03-07';
    await spend(day, [500]);
    const { sent, queue } = recordingQueue();
    await runCron(alertEnv({ ALERTS: queue, ALERT_DAILY_SPEND_USD: '50', USAGE_RETENTION_DAYS: '100000' }), day, '17 3 * * *');
    expect(sent).toEqual([]);
  });
});
