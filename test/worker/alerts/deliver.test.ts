import { createExecutionContext, createMessageBatch, env as testEnv, getQueueResult } from 'cloudflare:test';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../../src/alerts/alert';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import worker from '../../../src/index';
import { alertEnv, WEBHOOK_SECRET, WEBHOOK_URL } from '../helpers/alerts';
import { mockUpstream, type UpstreamCall } from '../helpers/fetch';
import { VAULT_TOKEN } from '../helpers/vault';

// The ALERTS queue's consumer (the worker's `queue` handler): each alert recorded in D1 under its key,
// posted signed to the webhook while not delivered, retried by the queue with growing delays when the
// webhook fails; nothing sent without a webhook. GET /admin/alerts shows how each delivery went.

afterEach(() => vi.restoreAllMocks());

let serial = 0;
const keyAlert = (): Alert => ({
  kind: 'key_rejected',
  key: `key_rejected:groq:${(serial++).toString(16).padStart(16, '0')}:2026-12-14`,
  time: new Date().toISOString(),
  provider: 'groq',
  keyId: '0123456789abcdef',
  status: 401,
  reason: 'http_401',
});

/** One delivery of `alerts` as the queue would make it (`attempts`: the how-manieth delivery of each). */
async function deliver(env: Bindings, alerts: unknown[], attempts = 1) {
  const batch = createMessageBatch<unknown>(
    'switchyard-alerts',
    alerts.map((body, i) => ({ id: `m${serial}-${i}`, timestamp: new Date(), attempts, body })),
  );
  // getQueueResult names the retried messages without their delays: those are read off retry() itself.
  const delays = batch.messages.map((message) => vi.spyOn(message, 'retry'));
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, createExecutionContext());
  return { ...result, delays: delays.flatMap((spy) => spy.mock.calls.map(([options]) => options?.delaySeconds)) };
}

const row = (key: string) =>
  testEnv.DB.prepare('SELECT attempts, delivered_at, last_error FROM alerts WHERE key = ?')
    .bind(key)
    .first<{ attempts: number; delivered_at: string | null; last_error: string | null }>();

/** The receiver's check of X-Switchyard-Signature, with Node's HMAC (not the worker's WebCrypto code). */
function verifySignature(call: UpstreamCall, secret: string, toleranceS = 300): boolean {
  const header = call.headers.get('x-switchyard-signature') ?? '';
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const [, t, v1] = match;
  if (Math.abs(Date.now() / 1000 - Number(t)) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${call.text()}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1!, 'hex'));
}

const adminAlerts = async (env: Bindings, query = '') =>
  (await app.request(`/admin/alerts${query}`, { headers: { authorization: `Bearer ${VAULT_TOKEN}` } }, { ...env, AI_JSON_CRYPTOKEN: VAULT_TOKEN })).json<any>();

describe('alert delivery', () => {
  it('posts a new alert once to the webhook, Slack-compatible and signed; a repeat of its key sends nothing', async () => {
    const { calls } = mockUpstream(() => new Response('ok'));
    const env = alertEnv();
    const alert = keyAlert();
    const result = await deliver(env, [alert]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.url).toBe(WEBHOOK_URL);
    expect(call!.method).toBe('POST');
    expect(call!.headers.get('content-type')).toBe('application/json');
    expect(call!.headers.get('x-switchyard-alert-key')).toBe(alert.key);
    expect(verifySignature(call!, WEBHOOK_SECRET)).toBe(true);
    expect(verifySignature(call!, 'another-secret')).toBe(false);
    const body = call!.json();
    expect(body.alert).toEqual(alert);
    expect(body.text).toMatch(/^Switchyard: Provider \*groq\* rejected a key \(HTTP 401/);
    expect(body.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: body.text } });
    expect(await row(alert.key)).toMatchObject({ attempts: 1, last_error: null, delivered_at: expect.any(String) });

    // Enqueued again (a producer that forgot it sent it), twice in one batch too: nothing is posted.
    const again = await deliver(env, [alert, { ...alert, time: new Date().toISOString() }]);
    expect(again.explicitAcks).toHaveLength(2);
    expect(calls).toHaveLength(1);
  });

  it('a failing webhook: retried by the queue with growing delays until delivered; attempts and the last error recorded', async () => {
    const statuses = [500, 503, 200];
    const { calls } = mockUpstream((_call, i) => new Response('x', { status: statuses[i] }));
    const env = alertEnv({ ALERT_RETRY_DELAY_S: '10' });
    const alert = keyAlert();

    const first = await deliver(env, [alert], 1);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.delays).toEqual([10]);
    expect(await row(alert.key)).toEqual({ attempts: 1, delivered_at: null, last_error: 'HTTP 500' });
    const listed = (await adminAlerts(env)).data.find((a: any) => a.key === alert.key);
    expect(listed).toMatchObject({ kind: 'key_rejected', delivered: false, attempts: 1, lastError: 'HTTP 500' });

    const second = await deliver(env, [alert], 2);
    expect(second.retryMessages).toHaveLength(1);
    expect(second.delays).toEqual([20]);
    expect(await row(alert.key)).toMatchObject({ attempts: 2, last_error: 'HTTP 503' });

    const third = await deliver(env, [alert], 3);
    expect(third.explicitAcks).toHaveLength(1);
    expect(third.retryMessages).toEqual([]);
    expect(await row(alert.key)).toMatchObject({ attempts: 3, last_error: null, delivered_at: expect.any(String) });
    expect(calls).toHaveLength(3);
    // Every try is signed afresh and carries the same alert.
    for (const call of calls) {
      expect(verifySignature(call, WEBHOOK_SECRET)).toBe(true);
      expect(call.json().alert).toEqual(alert);
    }
    expect((await adminAlerts(env)).data.find((a: any) => a.key === alert.key)).toMatchObject({ delivered: true, attempts: 3, lastError: null });
  });

  it('the delay doubles up to an hour', async () => {
    mockUpstream(() => new Response('down', { status: 500 }));
    const env = alertEnv();
    const delays = [];
    for (const attempts of [1, 2, 3, 7, 8, 20]) delays.push(...(await deliver(env, [keyAlert()], attempts)).delays);
    expect(delays).toEqual([30, 60, 120, 1920, 3600, 3600]);
  });

  it('a redirect is not followed: only the configured URL is ever fetched', async () => {
    const { calls } = mockUpstream(() => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example.test/' } }));
    const alert = keyAlert();
    const result = await deliver(alertEnv(), [alert]);
    expect(calls.map((c) => c.url)).toEqual([WEBHOOK_URL]);
    expect(result.retryMessages).toHaveLength(1);
    expect((await row(alert.key))?.last_error).toBe('HTTP 302 (redirects are not followed)');
  });

  it('without a secret the post is unsigned', async () => {
    const { calls } = mockUpstream(() => new Response('ok'));
    await deliver(alertEnv({ ALERT_WEBHOOK_SECRET: undefined }), [keyAlert()]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.has('x-switchyard-signature')).toBe(false);
  });

  it('nothing is sent without a webhook, or with one that is not https (http only for loopback hosts)', async () => {
    const { calls } = mockUpstream(() => new Response('ok'));
    for (const url of [undefined, '', 'http://hooks.example.test/x', 'https://user:pw@hooks.example.test/x', 'not a url']) {
      const alert = keyAlert();
      const result = await deliver(alertEnv({ ALERT_WEBHOOK_URL: url }), [alert]);
      expect(result.ackAll).toBe(true);
      expect(await row(alert.key)).toBeNull();
    }
    expect(calls).toEqual([]);
    const listing = await adminAlerts(alertEnv({ ALERT_WEBHOOK_URL: 'http://hooks.example.test/x' }));
    expect(listing.webhook).toEqual({ configured: false, signed: true, error: expect.stringContaining('must be https') });
    expect(JSON.stringify(listing)).not.toContain('hooks.example.test');
  });

  it('a message that is not an alert is dropped, the others delivered', async () => {
    const { calls } = mockUpstream(() => new Response('ok'));
    const alert = keyAlert();
    const result = await deliver(alertEnv(), [{ kind: 'nonsense' }, alert]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(calls.map((c) => c.json().alert.key)).toEqual([alert.key]);
  });

  it('a webhook that cannot be reached: the error names no URL', async () => {
    mockUpstream(() => {
      throw new TypeError(`connect failed: ${WEBHOOK_URL}`);
    });
    const alert = keyAlert();
    await deliver(alertEnv(), [alert]);
    const error = (await row(alert.key))?.last_error ?? '';
    expect(error).toMatch(/^network error: connect failed/);
    expect(error).not.toContain('webhook-secret-path');
  });
});

describe('GET /admin/alerts', () => {
  it('is for the operator only, lists newest first, filters by kind, and names a bad parameter', async () => {
    mockUpstream(() => new Response('ok'));
    const env = { ...alertEnv(), AI_JSON_CRYPTOKEN: VAULT_TOKEN };
    const budget: Alert = {
      kind: 'budget',
      key: `budget:u-${serial++}:month:2099-12:80`,
      time: '2099-12-02T00:00:00.000Z',
      user: { id: 'u', name: 'alice' },
      budget: 'monthlyBudgetUsd',
      period: '2099-12',
      threshold: 80,
      used: 8,
      limit: 10,
    };
    const spend: Alert = {
      kind: 'daily_spend',
      key: `daily_spend:2099-12-01:${serial++}`,
      time: '2099-12-01T00:00:00.000Z',
      day: '2099-12-01',
      spentUsd: 60,
      thresholdUsd: 50,
    };
    await deliver(env, [spend, budget]);
    expect((await app.request('/admin/alerts', {}, env)).status).toBe(401);
    expect((await app.request('/admin/alerts', { headers: { authorization: 'Bearer nope' } }, env)).status).toBe(401);
    const listing = await adminAlerts(env, '?limit=2');
    expect(listing.webhook).toEqual({ configured: true, signed: true, error: null });
    expect(listing.data.map((a: any) => a.key)).toEqual([budget.key, spend.key]);
    expect(listing.data[0]).toEqual({
      key: budget.key,
      kind: 'budget',
      time: budget.time,
      delivered: true,
      deliveredAt: expect.any(String),
      attempts: 1,
      lastError: null,
      alert: budget,
    });
    expect((await adminAlerts(env, '?kind=daily_spend&limit=200')).data.every((a: any) => a.kind === 'daily_spend')).toBe(true);
    const bad = await app.request('/admin/alerts?kind=weather', { headers: { authorization: `Bearer ${VAULT_TOKEN}` } }, env);
    expect(bad.status).toBe(400);
    expect((await bad.json<any>()).error.message).toMatch(/^invalid query parameter: kind/);
  });
});
