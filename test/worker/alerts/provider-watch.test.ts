import { describe, expect, it } from 'vitest';
import { ProviderWatch } from '../../../src/alerts/provider-watch';
import { alertEnv, recordingQueue } from '../helpers/alerts';

// Provider alerts, as the KeyHealth object watches the failures every isolate reports: a key its
// provider rejects (401, 402, 403) once per key and day; a provider failing for the window once per run.

const MIN = 60_000;
const T0 = Date.parse('2026-12-14T10:00:00Z');
const WINDOW = 5 * MIN;
const keyId = 'ab'.repeat(32);
const failure = (status: number | null, provider = 'groq', reason = status === null ? 'timed_out' : `http_${status}`) => ({ provider, keyId, status, reason });

describe('key rejected', () => {
  it('alerts once per key and UTC day, for 401, 402 and 403, naming the key by the start of its SHA-256', () => {
    const watch = new ProviderWatch();
    const first = watch.failed(failure(401), WINDOW, T0);
    expect(first).toEqual([
      {
        kind: 'key_rejected',
        key: `key_rejected:groq:${keyId.slice(0, 16)}:2026-12-14`,
        time: '2026-12-14T10:00:00.000Z',
        provider: 'groq',
        keyId: keyId.slice(0, 16),
        status: 401,
        reason: 'http_401',
      },
    ]);
    expect(watch.failed(failure(401), WINDOW, T0 + MIN)).toEqual([]);
    expect(watch.failed(failure(402), WINDOW, T0 + 2 * MIN)).toEqual([]);
    expect(watch.failed(failure(402, 'openrouter'), WINDOW, T0)).toMatchObject([{ kind: 'key_rejected', provider: 'openrouter', status: 402 }]);
    expect(watch.failed(failure(403, 'anthropic'), WINDOW, T0)).toMatchObject([{ kind: 'key_rejected', status: 403 }]);
    expect(watch.failed(failure(401), WINDOW, T0 + 24 * 60 * MIN)).toMatchObject([{ key: `key_rejected:groq:${keyId.slice(0, 16)}:2026-12-15` }]);
  });

  it('a rate limit is no rejection and no provider failure', () => {
    const watch = new ProviderWatch();
    for (let t = 0; t <= 10 * MIN; t += MIN) expect(watch.failed(failure(429), WINDOW, T0 + t)).toEqual([]);
  });
});

describe('provider failing', () => {
  it('alerts once when failures have gone on for the window without a recovery', () => {
    const watch = new ProviderWatch();
    const alerts = [];
    for (let t = 0; t <= 9 * MIN; t += 30_000) alerts.push(...watch.failed(failure(t % MIN ? 503 : null), WINDOW, T0 + t));
    expect(alerts).toEqual([
      {
        kind: 'provider_failing',
        key: 'provider_failing:groq:2026-12-14T10:00:00.000Z',
        time: '2026-12-14T10:05:00.000Z',
        provider: 'groq',
        since: '2026-12-14T10:00:00.000Z',
        minutes: 5,
        failures: 11,
        lastStatus: null,
        lastReason: 'timed_out',
      },
    ]);
  });

  it('a recovery ends the run: a later outage is a new alert', () => {
    const watch = new ProviderWatch();
    expect(watch.failed(failure(500), WINDOW, T0)).toEqual([]);
    expect(watch.failed(failure(500), WINDOW, T0 + 4 * MIN)).toEqual([]);
    watch.recovered('groq');
    expect(watch.failed(failure(500), WINDOW, T0 + 6 * MIN)).toEqual([]);
    expect(watch.failed(failure(500), WINDOW, T0 + 10 * MIN)).toEqual([]);
    expect(watch.failed(failure(500), WINDOW, T0 + 11 * MIN)).toMatchObject([{ key: 'provider_failing:groq:2026-12-14T10:06:00.000Z', failures: 3 }]);
  });

  it('a key resting longer than the window keeps the run going: its next try is what says it still fails', () => {
    // One key backing off 8 s between tries, a window of 3 s: silence while the key rests is no recovery.
    const watch = new ProviderWatch();
    const short = 3_000;
    const alerts = [];
    for (let t = 0; t <= 30_000; t += 8_000) alerts.push(...watch.failed({ ...failure(500), until: T0 + t + 8_000 }, short, T0 + t));
    expect(alerts).toMatchObject([{ kind: 'provider_failing', since: '2026-12-14T10:00:00.000Z', failures: 2 }]);
    // Past the window after the rest ended, nothing says it is still failing: a new run.
    const later = new ProviderWatch();
    expect(later.failed({ ...failure(500), until: T0 + 1_000 }, short, T0)).toEqual([]);
    expect(later.failed({ ...failure(500), until: T0 + 5_000 }, short, T0 + 4_500)).toEqual([]);
  });

  it('failures further apart than the window are no run; providers are watched apart', () => {
    const watch = new ProviderWatch();
    for (let t = 0; t <= 30 * MIN; t += 6 * MIN) expect(watch.failed(failure(502), WINDOW, T0 + t)).toEqual([]);
    expect(watch.failed(failure(500, 'mistral'), WINDOW, T0)).toEqual([]);
    expect(watch.failed(failure(500, 'groq'), WINDOW, T0 + 31 * MIN)).toEqual([]);
    expect(watch.failed(failure(500, 'mistral'), WINDOW, T0 + 5 * MIN)).toMatchObject([{ provider: 'mistral' }]);
  });
});

describe('report', () => {
  it('enqueues what a failure calls for, under ALERT_PROVIDER_FAILING_MINUTES; nothing without a webhook', async () => {
    const { sent, queue } = recordingQueue();
    const watch = new ProviderWatch();
    const env = alertEnv({ ALERTS: queue, ALERT_PROVIDER_FAILING_MINUTES: '0.5' });
    await watch.report(env, failure(500), T0);
    await watch.report(env, failure(500), T0 + 30_000);
    await watch.report(env, failure(401), T0 + 30_000);
    expect(sent.map((a) => a.kind)).toEqual(['provider_failing', 'key_rejected']);

    const off = recordingQueue();
    const unwatched = new ProviderWatch();
    const noWebhook = alertEnv({ ALERTS: off.queue, ALERT_WEBHOOK_URL: undefined, ALERT_PROVIDER_FAILING_MINUTES: '0.5' });
    for (const [status, t] of [
      [401, 0],
      [500, 0],
      [500, 60_000],
    ] as const)
      await unwatched.report(noWebhook, failure(status), T0 + t);
    expect(off.sent).toEqual([]);
  });
});
