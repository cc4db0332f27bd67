import { readyDb } from '../d1/schema';
import type { Bindings } from '../env';
import type { DailySpendAlert } from './alert';
import { queueAlerts } from './queue';
import { alertSettings } from './settings';
import { wasDelivered } from './store';

// The day's spend over ALERT_DAILY_SPEND_USD, checked by the cron every few minutes (wrangler.jsonc)
// from the usage records in D1: the sum of every user's cost since 00:00 UTC. No request pays for it,
// and it sees what every user's object has flushed (records reach D1 within seconds of their answer).

/** Check today's spend against the threshold; enqueue its alert once it is reached (once per day and threshold). */
export async function checkDailySpend(env: Bindings, now = Date.now()): Promise<void> {
  const { webhookUrl, dailySpendUsd } = alertSettings(env);
  if (webhookUrl === undefined || dailySpendUsd === undefined) return;
  const day = new Date(now).toISOString().slice(0, 10);
  const key = `daily_spend:${day}:${dailySpendUsd}`;
  const db = await readyDb(env.DB);
  if (await wasDelivered(db, key)) return;
  const row = await db.prepare('SELECT SUM(cost_usd) AS usd FROM usage_records WHERE day = ?1').bind(day).first<{ usd: number | null }>();
  const spentUsd = row?.usd ?? 0;
  if (spentUsd < dailySpendUsd) return;
  const alert: DailySpendAlert = { kind: 'daily_spend', key, time: new Date(now).toISOString(), day, spentUsd, thresholdUsd: dailySpendUsd };
  await queueAlerts(env, [alert]);
}
