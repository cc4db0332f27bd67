import type { Bindings } from '../env';
import type { Alert, KeyRejectedAlert, ProviderFailingAlert } from './alert';
import { queueAlerts } from './queue';
import { alertSettings, alertsOn } from './settings';

// Provider alerts, watched where every isolate's key failures and recoveries arrive: the KeyHealth
// object (src/limits/key-health.ts).
// - A key rejected by its provider (401 revoked or unknown, 402 out of credit, 403 confirmed by a
//   check with the same key): once per key and UTC day while it keeps being rejected.
// - A provider failing (5xx, 408, timeouts, network errors) for ALERT_PROVIDER_FAILING_MINUTES: a run
//   starts at a failure and ends when one of the provider's keys answers again, or when no failure
//   came for as long as the window after its keys could be tried again (nothing then says it is still
//   failing; while a failed key rests, silence says nothing: the gateway is not asking). Once per run.
// Rate-limit refusals (429) are neither: they are the provider working as agreed.

/** What the KeyHealth object is told of a failed attempt. */
export interface KeyFailureReport {
  provider: string;
  /** Hex SHA-256 of the key. */
  keyId: string;
  /** The upstream's status; null for a timeout or a network error. */
  status: number | null;
  reason: string;
  /** When the key may be tried again (its rest after this failure); absent: at once. */
  until?: number;
}

const REJECTING = new Set([401, 402, 403]);
const failing = (status: number | null) => status === null || status === 408 || status >= 500;

interface Run {
  since: number;
  /** The latest failure, or the latest end of a failed key's rest if later: silence counts from here. */
  last: number;
  failures: number;
  alerted: boolean;
}

/** Rejected keys remembered (a key is alerted once a day; the consumer's D1 key covers what is forgotten). */
const MAX_REMEMBERED = 256;

export class ProviderWatch {
  private readonly runs = new Map<string, Run>();
  private readonly rejected = new Set<string>();

  /** The alerts one failure calls for, given the failing window. */
  failed(failure: KeyFailureReport, failingMs: number, now = Date.now()): Alert[] {
    if (failure.status !== null && REJECTING.has(failure.status)) return this.keyRejected(failure, failure.status, now);
    if (!failing(failure.status)) return [];
    let run = this.runs.get(failure.provider);
    if (!run || now - run.last > failingMs) {
      run = { since: now, last: now, failures: 0, alerted: false };
      this.runs.set(failure.provider, run);
    }
    run.last = Math.max(run.last, now, failure.until ?? now);
    run.failures++;
    if (run.alerted || now - run.since < failingMs) return [];
    run.alerted = true;
    const since = new Date(run.since).toISOString();
    const alert: ProviderFailingAlert = {
      kind: 'provider_failing',
      key: `provider_failing:${failure.provider}:${since}`,
      time: new Date(now).toISOString(),
      provider: failure.provider,
      since,
      minutes: Math.round((now - run.since) / 6_000) / 10,
      failures: run.failures,
      lastStatus: failure.status,
      lastReason: failure.reason,
    };
    return [alert];
  }

  /** One of the provider's keys answered again: its failing run is over. */
  recovered(provider: string) {
    this.runs.delete(provider);
  }

  /** Watch a failure and enqueue what it calls for (nothing when alerts are off). */
  async report(env: Bindings, failure: KeyFailureReport, now = Date.now()): Promise<void> {
    if (!alertsOn(env)) return;
    const alerts = this.failed(failure, alertSettings(env).providerFailingMs, now);
    if (!(await queueAlerts(env, alerts))) for (const alert of alerts) this.forget(alert);
  }

  /** An alert that could not be enqueued: the next failure may call for it again. */
  private forget(alert: Alert) {
    if (alert.kind === 'key_rejected') this.rejected.delete(alert.key);
    else if (alert.kind === 'provider_failing') {
      const run = this.runs.get(alert.provider);
      if (run) run.alerted = false;
    }
  }

  private keyRejected(failure: KeyFailureReport, status: number, now: number): KeyRejectedAlert[] {
    const keyId = failure.keyId.slice(0, 16);
    const key = `key_rejected:${failure.provider}:${keyId}:${new Date(now).toISOString().slice(0, 10)}`;
    if (this.rejected.has(key)) return [];
    if (this.rejected.size >= MAX_REMEMBERED) this.rejected.delete(this.rejected.values().next().value!);
    this.rejected.add(key);
    return [{ kind: 'key_rejected', key, time: new Date(now).toISOString(), provider: failure.provider, keyId, status, reason: failure.reason }];
  }
}
