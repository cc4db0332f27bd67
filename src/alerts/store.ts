import * as z from 'zod';
import { Alert, type AlertKind } from './alert';

// The alerts table in D1 (migrations/0007_alerts.sql): one row per alert key, with how its delivery
// went. The consumer claims a row before posting, so two deliveries of one key never post together.

/** How long a claim holds: longer than a webhook post may take. */
const CLAIM_MS = 30_000;

/**
 * Record the alert (a key seen before keeps its first row) and claim its delivery. True when this
 * caller should post it: not delivered yet, and no other delivery in progress.
 */
export async function recordAndClaim(db: D1Database, alert: Alert, now = Date.now()): Promise<boolean> {
  const [, claim] = await db.batch([
    db.prepare('INSERT OR IGNORE INTO alerts (key, kind, time, alert) VALUES (?1, ?2, ?3, ?4)').bind(alert.key, alert.kind, alert.time, JSON.stringify(alert)),
    db
      .prepare('UPDATE alerts SET claimed_until = ?1 WHERE key = ?2 AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?3) RETURNING key')
      .bind(now + CLAIM_MS, alert.key, now),
  ]);
  return (claim?.results.length ?? 0) > 0;
}

/** The outcome of one post: delivered (no error), or why not. Releases the claim. */
export async function recordAttempt(db: D1Database, key: string, error: string | undefined, now = Date.now()): Promise<void> {
  await db
    .prepare('UPDATE alerts SET attempts = attempts + 1, delivered_at = ?1, last_error = ?2, claimed_until = NULL WHERE key = ?3')
    .bind(error === undefined ? new Date(now).toISOString() : null, error ?? null, key)
    .run();
}

/** Whether an alert with this key was delivered already (a producer's check before enqueueing it again). */
export async function wasDelivered(db: D1Database, key: string): Promise<boolean> {
  return (await db.prepare('SELECT 1 AS one FROM alerts WHERE key = ?1 AND delivered_at IS NOT NULL').bind(key).first()) !== null;
}

const KINDS = Alert.options.map((option) => option.shape.kind.value) as [AlertKind, ...AlertKind[]];

export const AlertsQuery = z.strictObject({
  kind: z.enum(KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type AlertsQuery = z.infer<typeof AlertsQuery>;

export interface AlertRow {
  key: string;
  kind: AlertKind;
  time: string;
  delivered: boolean;
  deliveredAt: string | null;
  attempts: number;
  lastError: string | null;
  alert: Alert;
}

/** The most recent alerts, newest first. */
export async function recentAlerts(db: D1Database, query: AlertsQuery): Promise<AlertRow[]> {
  const { results } = await db
    .prepare(
      `SELECT key, kind, time, alert, attempts, delivered_at, last_error FROM alerts
       ${query.kind ? 'WHERE kind = ?2' : ''} ORDER BY time DESC, key LIMIT ?1`,
    )
    .bind(...(query.kind ? [query.limit, query.kind] : [query.limit]))
    .all<{ key: string; kind: AlertKind; time: string; alert: string; attempts: number; delivered_at: string | null; last_error: string | null }>();
  return results.map((row) => ({
    key: row.key,
    kind: row.kind,
    time: row.time,
    delivered: row.delivered_at !== null,
    deliveredAt: row.delivered_at,
    attempts: row.attempts,
    lastError: row.last_error,
    alert: JSON.parse(row.alert) as Alert,
  }));
}
