import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';
import { startWebhookReceiver, type WebhookReceiver } from './harness/webhook';

// Alerts end to end: the gateway in `wrangler dev` with its real ALERTS queue (producer and consumer
// run by wrangler), the stand-in providers, and a webhook receiver on 127.0.0.1 that checks every
// signature and fails the first two posts of each alert. Every kind fires once per condition: a
// user's monthly USD budget and daily tokens at 50 / 80 / 100 %, a key revoked (401) and one out of
// credit (402), a provider failing for the window, the day's spend over the threshold. Then a gateway
// without a webhook sends and records nothing for the same conditions.

const TOKEN = 'e2e-alerts-vault-token';
const SECRET = 'e2e-alerts-signing-secret';
const OPS_KEY = 'sy-e2e-alerts-ops';
const GROQ_KEYS = { ok: 'gsk_alerts_ok', revoked: 'gsk_alerts_revoked', broke: 'gsk_alerts_out_of_credit' };
const FLAKY_KEY = 'flaky-alerts-key';
const MODEL = 'llama-3.3-70b-versatile';
/** The provider failing window: 0.05 minutes (3 s), so the run fits in a test. */
const FAILING_MINUTES = '0.05';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it gives a value; `what` names it in the timeout's error (a function: what is still missing then). */
async function until<T>(what: string | (() => string), probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(everyMs);
  }
}

function vault(standInUrl: string) {
  return {
    version: 1,
    providers: {
      groq: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        keys: Object.values(GROQ_KEYS).map((key) => ({ key, type: 'paid' })),
        models: [{ id: MODEL, usage: 'chat', inputPrice: 0.59, outputPrice: 0.79 }],
      },
      flaky: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        keys: [{ key: FLAKY_KEY, type: 'paid' }],
        models: [{ id: 'llama-3.1-8b-instant', usage: 'chat' }],
      },
    },
  };
}

function chat(gateway: Gateway, userKey: string, provider = 'groq', model = MODEL) {
  return fetch(`${gateway.url}/${provider}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'alerts, please' }] }),
  });
}

const operator = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function record(gateway: Gateway, userKey: string, id: string) {
  return until(`record ${id}`, async () => {
    const res = await fetch(`${gateway.url}/v1/usage/requests/${id}`, { headers: { authorization: `Bearer ${userKey}` } });
    return res.status === 200 ? ((await res.json()) as { cost_usd: number; input_tokens: number; output_tokens: number }) : undefined;
  });
}

/** Faults that make the three conditions providers cause: a revoked key, a key out of credit, a provider down. */
function addFaults(standIn: StandIn) {
  standIn.revokeKey(GROQ_KEYS.revoked);
  standIn.addFault({ key: GROQ_KEYS.broke, status: 402, times: Infinity, message: 'Insufficient credits. Add more credits and retry the request.' });
  standIn.addFault({ key: FLAKY_KEY, status: 500, times: Infinity });
}

/**
 * Requests that cross every condition: a calibration request (one request's cost and tokens), a user
 * created with budgets of 3.3 requests (so requests 2, 3 and 4 reach 50, 80 and 100 %), requests to
 * the failing provider (for up to three windows, while `onFailingProvider` says so). Returns the user's statuses.
 */
async function crossEveryCondition(gateway: Gateway, userName: string, onFailingProvider: () => boolean) {
  const calibration = await chat(gateway, OPS_KEY);
  expect(calibration.status).toBe(200);
  const one = await record(gateway, OPS_KEY, calibration.headers.get('x-request-id')!);
  const tokens = one.input_tokens + one.output_tokens;
  const created = await fetch(`${gateway.url}/admin/users`, {
    method: 'POST',
    headers: operator,
    body: JSON.stringify({ name: userName, monthlyBudgetUsd: one.cost_usd * 3.3, dailyTokens: Math.floor(tokens * 3.3) }),
  });
  expect(created.status).toBe(201);
  const { key } = (await created.json()) as { key: string };
  const statuses: number[] = [];
  for (let i = 0; i < 6 && !statuses.includes(429); i++) {
    const res = await chat(gateway, key);
    statuses.push(res.status);
    if (res.status === 200) await record(gateway, key, res.headers.get('x-request-id')!);
  }
  const started = Date.now();
  while (Date.now() - started < 10_000 && onFailingProvider()) {
    expect((await chat(gateway, OPS_KEY, 'flaky', 'llama-3.1-8b-instant')).status).toBeGreaterThanOrEqual(500);
    await sleep(300);
  }
  return { statuses, costUsd: one.cost_usd };
}

/** Until the usage records of the requests made so far are in D1 (the user objects flush them after 2 s). */
const untilSpendInD1 = (gateway: Gateway) =>
  until('the records in D1', async () => {
    const usage = (await (await fetch(`${gateway.url}/admin/usage`, { headers: operator })).json()) as {
      data: { requests: number; cost_usd: number | null }[];
    };
    return usage.data.some((row) => row.requests >= 5 && (row.cost_usd ?? 0) > 0) ? true : undefined;
  });

const scheduled = (gateway: Gateway) => fetch(`${gateway.url}/__scheduled?cron=${encodeURIComponent('*/5 * * * *')}`);

describe('alerts (wrangler dev, real queue, webhook on 127.0.0.1)', () => {
  let standIn: StandIn;
  let receiver: WebhookReceiver;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    standIn = await startStandIn();
    receiver = await startWebhookReceiver({ secret: SECRET, failFirst: 2 });
  });
  afterAll(async () => {
    await gateway?.stop();
    await receiver?.close();
    await standIn?.close();
  });

  it('fires each kind once per condition, signed, retried while the webhook fails; GET /admin/alerts lists them', async () => {
    addFaults(standIn);
    const vaultText = await encryptWithOpenssl(JSON.stringify(vault(standIn.url)), TOKEN);
    gateway = await startGateway({
      vars: {
        AI_JSON_CRYPTOKEN: TOKEN,
        DEFAULT_RPM: '0',
        ALERT_WEBHOOK_URL: receiver.url,
        ALERT_WEBHOOK_SECRET: SECRET,
        ALERT_PROVIDER_FAILING_MINUTES: FAILING_MINUTES,
        ALERT_RETRY_DELAY_S: '1',
        ALERT_DAILY_SPEND_USD: '0.000001',
      },
      users: { ops: { key: OPS_KEY } },
      vaultText,
      testScheduled: true,
    });
    const hasKind = (kind: string) => receiver.posts.some((p) => p.key.startsWith(`${kind}:`));
    const { statuses } = await crossEveryCondition(gateway, 'carol', () => !hasKind('provider_failing'));
    // Budgets of 3.3 requests: three fit whole, the fourth is admitted over 90 % and overshoots; then 429.
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    // The day's spend is read from D1: records reach it within seconds of their answer.
    await untilSpendInD1(gateway);
    expect((await scheduled(gateway)).ok).toBe(true);

    const carolId = await until('carol in /admin/users', async () => {
      const users = (await (await fetch(`${gateway!.url}/admin/users`, { headers: operator })).json()) as { data: { name: string; id: string }[] };
      return users.data.find((u) => u.name === 'carol')?.id;
    });
    const month = new Date().toISOString().slice(0, 7);
    const day = new Date().toISOString().slice(0, 10);
    const expected = [...[50, 80, 100].map((t) => `budget:${carolId}:month:${month}:${t}`), ...[50, 80, 100].map((t) => `budget:${carolId}:day:${day}:${t}`)];
    const kinds = ['key_rejected', 'provider_failing', 'daily_spend'];
    const undelivered = () => {
      const delivered = receiver.delivered().map((p) => p.key);
      return [
        ...expected.filter((k) => !delivered.includes(k)),
        ...kinds.filter((kind) => !delivered.some((k) => k.startsWith(`${kind}:`))).map((kind) => `${kind}:*`),
      ];
    };
    await until(
      () => `every alert delivered; still missing ${undelivered().join(', ')}; posts seen: ${receiver.posts.map((p) => `${p.key} ${p.status}`).join(', ')}`,
      () => (undelivered().length === 0 ? true : undefined),
    );

    // Nothing else comes: the same conditions seen again (another cron run, a refused request, the failing provider) send nothing new.
    await scheduled(gateway);
    expect((await chat(gateway, OPS_KEY, 'flaky', 'llama-3.1-8b-instant')).status).toBeGreaterThanOrEqual(500);
    await sleep(4_000);

    const byKey = new Map<string, typeof receiver.posts>();
    for (const post of receiver.posts) byKey.set(post.key, [...(byKey.get(post.key) ?? []), post]);
    const keys = [...byKey.keys()].sort();
    const rejected = keys.filter((k) => k.startsWith('key_rejected:'));
    expect(rejected).toHaveLength(2);
    expect(keys.filter((k) => k.startsWith('provider_failing:flaky:'))).toHaveLength(1);
    expect(keys.filter((k) => k.startsWith('daily_spend:'))).toEqual([`daily_spend:${day}:0.000001`]);
    expect(keys.filter((k) => k.startsWith('budget:')).sort()).toEqual([...expected].sort());
    expect(keys).toHaveLength(expected.length + 4);
    // Each alert: two posts refused by the receiver, then delivered once; every post signed.
    for (const [key, posts] of byKey) {
      expect(
        posts.map((p) => p.status),
        key,
      ).toEqual([500, 500, 200]);
      expect(posts.every((p) => p.signatureValid)).toBe(true);
      expect(posts[1]!.at - posts[0]!.at, `${key}: the queue waits before it tries again`).toBeGreaterThanOrEqual(900);
      const body = JSON.parse(posts[2]!.body) as { text: string; blocks: unknown[]; alert: { key: string; kind: string } };
      expect(body.alert.key).toBe(key);
      expect(body.text).toMatch(/^Switchyard: /);
      expect(body.blocks.length).toBeGreaterThan(0);
    }
    const alertOf = (key: string) => JSON.parse(byKey.get(key)![2]!.body).alert;
    expect(new Set(rejected.map((k) => alertOf(k).status))).toEqual(new Set([401, 402]));
    expect(alertOf(`budget:${carolId}:month:${month}:80`)).toMatchObject({
      kind: 'budget',
      user: { id: carolId, name: 'carol' },
      budget: 'monthlyBudgetUsd',
      threshold: 80,
    });
    const failing = alertOf(keys.find((k) => k.startsWith('provider_failing:'))!);
    expect(failing).toMatchObject({ kind: 'provider_failing', provider: 'flaky', lastStatus: 500 });
    expect(failing.minutes).toBeGreaterThanOrEqual(Number(FAILING_MINUTES));
    // No key is ever sent: the alert names the key by the start of its SHA-256.
    for (const secret of Object.values(GROQ_KEYS)) expect(receiver.posts.some((p) => p.body.includes(secret))).toBe(false);

    const listing = (await (await fetch(`${gateway.url}/admin/alerts?limit=200`, { headers: operator })).json()) as {
      webhook: unknown;
      data: { key: string; delivered: boolean; attempts: number; lastError: string | null }[];
    };
    expect(listing.webhook).toEqual({ configured: true, signed: true, error: null });
    expect(listing.data.map((a) => a.key).sort()).toEqual(keys);
    for (const row of listing.data) expect(row, row.key).toMatchObject({ delivered: true, attempts: 3, lastError: null });
    expect(JSON.stringify(listing)).not.toContain(receiver.url);
    expect((await fetch(`${gateway.url}/admin/alerts`, { headers: { authorization: `Bearer ${OPS_KEY}` } })).status).toBe(401);
  }, 180_000);

  it('without a webhook nothing is enqueued, sent or recorded for the same conditions', async () => {
    await gateway?.stop();
    gateway = undefined;
    standIn.reset();
    addFaults(standIn);
    const before = receiver.posts.length;
    const vaultText = await encryptWithOpenssl(JSON.stringify(vault(standIn.url)), TOKEN);
    gateway = await startGateway({
      vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0', ALERT_PROVIDER_FAILING_MINUTES: FAILING_MINUTES, ALERT_DAILY_SPEND_USD: '0.000001' },
      users: { ops: { key: OPS_KEY } },
      vaultText,
      testScheduled: true,
    });
    const { statuses } = await crossEveryCondition(gateway, 'dave', () => true);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    await untilSpendInD1(gateway);
    expect((await scheduled(gateway)).ok).toBe(true);
    await sleep(4_000);
    expect(standIn.requests.some((r) => r.key === GROQ_KEYS.revoked) && standIn.requests.some((r) => r.key === GROQ_KEYS.broke)).toBe(true);
    expect(receiver.posts.length).toBe(before);
    const listing = (await (await fetch(`${gateway.url}/admin/alerts`, { headers: operator })).json()) as { webhook: unknown; data: unknown[] };
    expect(listing).toEqual({ object: 'list', webhook: { configured: false, signed: false, error: null }, data: [] });
    expect(gateway.logs()).not.toMatch(/"event":"alert_/);
  }, 180_000);
});
