import { createExecutionContext, createScheduledController, env as testEnv, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import worker from '../../../src/index';
import type { Bindings } from '../../../src/env';
import { INSERT_RECORDS_SQL, recordsParam, type UsageRecord } from '../../../src/usage/record';
import { makeEnv, userHeaders } from '../helpers/env';
import { mockUpstream } from '../helpers/fetch';
import { pricedConfig } from '../helpers/prices';
import { jsonResponse } from '../helpers/wire';

// GET /v1/usage and GET /v1/usage/requests/:id (own records only), and the scheduled removal of
// records older than USAGE_RETENTION_DAYS.

afterEach(() => vi.restoreAllMocks());

const USAGE = { prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 };
const COST = (123 * 0.59 + 45 * 0.79) / 1e6;

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;

async function twoUsers(limits: Record<string, unknown> = {}) {
  const [alice, bob] = [unique('alice'), unique('bob')];
  const env = await makeEnv({ config: pricedConfig(), users: { [alice]: { key: `key-${alice}`, ...limits }, [bob]: { key: `key-${bob}` } } });
  mockUpstream((call) =>
    jsonResponse({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: call.json().model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
      usage: USAGE,
    }),
  );
  return { env, alice, bob };
}

async function chat(env: Bindings, user: string, model = 'llama-3.3-70b-versatile', provider = 'groq') {
  const ctx = createExecutionContext();
  const res = await app.request(
    `/${provider}/v1/chat/completions`,
    { method: 'POST', headers: userHeaders(`key-${user}`), body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) },
    env,
    ctx,
  );
  await res.text();
  await waitOnExecutionContext(ctx);
  return res.headers.get('x-request-id')!;
}

const get = (env: Bindings, user: string, path: string) => app.request(path, { headers: userHeaders(`key-${user}`) }, env);

describe('GET /v1/usage', () => {
  it('gives the caller’s totals, budget and by_model, counting records still pending and those in D1 once each', async () => {
    const { env, alice, bob } = await twoUsers({ monthlyBudgetUsd: 5, dailyTokens: 100_000 });
    await chat(env, alice);
    await chat(env, alice);
    await chat(env, bob);
    // One of alice's flushed to D1, then a third still pending.
    await runDurableObjectAlarm(testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${alice}`)));
    await chat(env, alice);
    const res = await get(env, alice, '/v1/usage');
    expect(res.status).toBe(200);
    const body = await res.json<Record<string, any>>();
    const today = new Date().toISOString().slice(0, 10);
    expect(body).toMatchObject({
      user: alice,
      from: `${today.slice(0, 7)}-01`,
      to: today,
      requests: 3,
      errors: 0,
      input_tokens: 369,
      output_tokens: 135,
      unpriced_requests: 0,
      budget: { monthlyBudgetUsd: 5, dailyTokens: 100_000, usedTokensToday: 504 },
      by_model: [{ provider: 'groq', model: 'llama-3.3-70b-versatile', requests: 3, input_tokens: 369, output_tokens: 135 }],
    });
    expect(body.cost_usd).toBeCloseTo(3 * COST, 12);
    expect(body.budget.spentUsdThisMonth).toBeCloseTo(3 * COST, 12);
  });

  it('counts unpriced requests apart, and takes an inclusive date range', async () => {
    const { env, alice } = await twoUsers();
    await chat(env, alice, 'gpt-4o-mini', 'openai');
    const today = new Date().toISOString().slice(0, 10);
    const body = await (await get(env, alice, `/v1/usage?from=${today}&to=${today}`)).json<Record<string, any>>();
    expect(body).toMatchObject({ requests: 1, unpriced_requests: 1, cost_usd: 0, budget: { monthlyBudgetUsd: null, dailyTokens: null } });
    const before = await (await get(env, alice, '/v1/usage?from=2020-01-01&to=2020-01-31')).json<Record<string, any>>();
    expect(before).toMatchObject({ requests: 0, by_model: [] });
    const bad = await get(env, alice, '/v1/usage?from=yesterday');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_query' } });
  });
});

describe('GET /v1/usage/requests/:id', () => {
  it('gives one of the caller’s records (pending or in D1) and 404 for another user’s', async () => {
    const { env, alice, bob } = await twoUsers();
    const id = await chat(env, alice);
    const pending = await get(env, alice, `/v1/usage/requests/${id}`);
    expect(pending.status).toBe(200);
    expect(await pending.json()).toMatchObject({ id, user: alice, input_tokens: 123, output_tokens: 45, stream: false });
    await runDurableObjectAlarm(testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${alice}`)));
    const flushed = await get(env, alice, `/v1/usage/requests/${id}`);
    expect(await flushed.json()).toMatchObject({ id, user: alice, stream: false, cost_usd: expect.closeTo(COST, 12) });
    const other = await get(env, bob, `/v1/usage/requests/${id}`);
    expect(other.status).toBe(404);
    expect((await get(env, alice, '/v1/usage/requests/no-such-id')).status).toBe(404);
  });
});

describe('retention', () => {
  it('the scheduled handler removes records older than USAGE_RETENTION_DAYS and keeps the rest', async () => {
    const user = unique('old');
    const record = (id: string, daysAgo: number): UsageRecord => ({
      id,
      client_request_id: null,
      time: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
      user_id: user,
      user,
      route: 'proxy',
      operation: 'chat/completions',
      provider: 'groq',
      model: 'm',
      status: 200,
      stream: false,
      attempts: 1,
      input_tokens: 1,
      output_tokens: 1,
      cached_input_tokens: 0,
      usage_source: 'provider',
      cost_usd: 0,
      latency_ms: 1,
      first_byte_ms: 1,
      cache: 'none',
      error_code: null,
      saved_usd: null,
    });
    await testEnv.DB.prepare(INSERT_RECORDS_SQL)
      .bind(recordsParam([record(`${user}-1`, 1), record(`${user}-29`, 29), record(`${user}-31`, 31), record(`${user}-400`, 400)]))
      .run();
    const env = { ...(testEnv as unknown as Bindings), USAGE_RETENTION_DAYS: '30' };
    await worker.scheduled(createScheduledController({ cron: '17 3 * * *' }), env);
    const { results } = await testEnv.DB.prepare('SELECT id FROM usage_records WHERE user = ? ORDER BY id').bind(user).all<{ id: string }>();
    expect(results.map((r) => r.id)).toEqual([`${user}-1`, `${user}-29`]);
  });
});
