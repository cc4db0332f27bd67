import { DurableObject } from 'cloudflare:workers';
import { ProviderWatch } from '../alerts/provider-watch';
import type { Bindings } from '../env';
import { settingsOf } from './settings';
import { type SignalPoint, type SignalReport, type SignalRow, SignalTable } from './signals';

// The health of every provider key, shared by all isolates (one object, KEY_HEALTH_NAME). Workers
// report a key's failure or its recovery off the response path, and read the table through a short
// per-isolate cache (src/forward/key-health.ts), so choosing a key never waits on this object.
// Keys are known here only by the hex SHA-256 of their value.

export const KEY_HEALTH_NAME = 'key-health';

export interface KeyHealthRow {
  provider: string;
  /** Hex SHA-256 of the key. */
  keyId: string;
  /** Resting until (ms since the epoch); 0 when not resting. */
  until: number;
  /** Consecutive failures, for the backoff. */
  failures: number;
  /** The last failure: its HTTP status (null for a timeout or a network error), reason and time. */
  lastStatus: number | null;
  lastReason: string | null;
  lastFailureAt: number | null;
}

export interface KeyFailure {
  provider: string;
  keyId: string;
  until: number;
  failures: number;
  status: number | null;
  reason: string;
}

export interface KeyHealthView {
  keys: KeyHealthRow[];
  signals: SignalRow[];
}

export class KeyHealth extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private readonly signals: SignalTable;
  /** Alerts for keys their provider rejects and providers failing (src/alerts/provider-watch.ts). */
  private readonly alerts = new ProviderWatch();

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.signals = new SignalTable(this.sql);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS key_health (
      provider TEXT NOT NULL, key_id TEXT NOT NULL, until INTEGER NOT NULL, failures INTEGER NOT NULL,
      last_status INTEGER, last_reason TEXT, last_failure_at INTEGER, PRIMARY KEY (provider, key_id))`);
  }

  /** A key failed: it rests until the later of what this isolate and the others decided. */
  failed(failure: KeyFailure): void {
    this.sql.exec(
      `INSERT INTO key_health VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (provider, key_id) DO UPDATE SET until = MAX(until, excluded.until),
         failures = MAX(failures + 1, excluded.failures), last_status = excluded.last_status,
         last_reason = excluded.last_reason, last_failure_at = excluded.last_failure_at`,
      failure.provider,
      failure.keyId,
      failure.until,
      failure.failures,
      failure.status,
      failure.reason,
      Date.now(),
    );
    this.ctx.waitUntil(this.alerts.report(this.env, failure));
  }

  /** A key answered: it no longer rests and its backoff starts over; its last failure stays on record. */
  recovered(provider: string, keyId: string): void {
    this.sql.exec('UPDATE key_health SET until = 0, failures = 0 WHERE provider = ? AND key_id = ?', provider, keyId);
    this.alerts.recovered(provider);
  }

  /** One isolate's batch of routing signals (src/forward/signals.ts). */
  report(reports: SignalReport[]): void {
    this.signals.record(reports, settingsOf(this.env).SIGNAL_WINDOW_MS, Date.now());
  }

  /** What isolates read every KEY_HEALTH_CACHE_MS: the resting keys and the routing signals, in one call. */
  view(): KeyHealthView {
    return { keys: this.snapshot(), signals: this.signals.all() };
  }

  /** The providers' signals over time (the operator console's charts). */
  signalPoints(): SignalPoint[] {
    return this.signals.points();
  }

  snapshot(): KeyHealthRow[] {
    return this.sql
      .exec<{
        provider: string;
        key_id: string;
        until: number;
        failures: number;
        last_status: number | null;
        last_reason: string | null;
        last_failure_at: number | null;
      }>('SELECT * FROM key_health')
      .toArray()
      .map((row) => ({
        provider: row.provider,
        keyId: row.key_id,
        until: row.until,
        failures: row.failures,
        lastStatus: row.last_status,
        lastReason: row.last_reason,
        lastFailureAt: row.last_failure_at,
      }));
  }
}
