import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { secondsToNextPeriod } from '../../src/limits/lease-ledger';
import { makeEnv, userHeaders } from './helpers/env';
import { mockUpstream } from './helpers/fetch';
import { jsonResponse } from './helpers/wire';
import { pricedConfig } from './helpers/prices';

// Budgets on a user: monthlyBudgetUsd and dailyTokens, enforced in the user's Durable Object with a
// reservation before the call, settled by the actual usage after.

afterEach(() => vi.restoreAllMocks());

const USAGE = { prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 };
/** One groq llama request at the test prices (0.59 / 0.79 USD per 1M). */
const COST = (123 * 0.59 + 45 * 0.79) / 1e6;

let serial = 0;
async function budgetEnv(limits: Record<string, unknown>) {
  const name = `budget-${Date.now().toString(36)}-${serial++}`;
  const key = `key-${name}`;
  const env = await makeEnv({ config: pricedConfig(), users: { [name]: { key, ...limits } } });
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
  return { env, name, key };
}

// A prompt of 300 characters: the reservation (every byte a token, plus max_tokens) covers the
// 123 + 45 tokens the stand-in reports.
const prompt = 'x'.repeat(300);
const body = (model = 'llama-3.3-70b-versatile') => JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: prompt }] });

async function send(env: Awaited<ReturnType<typeof budgetEnv>>['env'], key: string, model?: string) {
  const ctx = createExecutionContext();
  const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(key), body: body(model) }, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

const meterOf = (name: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${name}`));

describe('budgets', () => {
  it('refuses with 429 insufficient_quota and Retry-After to the next UTC month once the monthly budget is spent', async () => {
    const { env, name, key } = await budgetEnv({ monthlyBudgetUsd: COST * 1.5 });
    expect((await send(env, key)).res.status).toBe(200);
    expect((await send(env, key)).res.status).toBe(200);
    const { res, text } = await send(env, key);
    expect(res.status).toBe(429);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'insufficient_quota' } });
    const wait = Number(res.headers.get('retry-after'));
    const expected = secondsToNextPeriod('month', Date.now());
    expect(Math.abs(wait - expected)).toBeLessThanOrEqual(2);
    expect((await meterOf(name).budget()).spentUsdThisMonth).toBeCloseTo(2 * COST, 12);
  });

  it('a user whose budget is spent still reads GET /v1/usage and their records; the 429 names that route', async () => {
    const { env, key } = await budgetEnv({ monthlyBudgetUsd: COST * 0.5, dailyTokens: 100 });
    const first = await send(env, key);
    expect(first.res.status).toBe(200);
    const refused = await send(env, key);
    expect(refused.res.status).toBe(429);
    expect(JSON.parse(refused.text).error.message).toContain('GET /v1/usage');
    const usage = await app.request('/v1/usage', { headers: userHeaders(key) }, env);
    expect(usage.status).toBe(200);
    expect(await usage.json()).toMatchObject({ requests: 1, budget: { spentUsdThisMonth: expect.closeTo(COST, 12), usedTokensToday: 168 } });
    const record = await app.request(`/v1/usage/requests/${first.res.headers.get('x-request-id')}`, { headers: userHeaders(key) }, env);
    expect(record.status).toBe(200);
    // The catalog reaches no provider either.
    expect((await app.request('/v1/models', { headers: userHeaders(key) }, env)).status).toBe(200);
  });

  it('refuses once the daily tokens are used, with Retry-After to the next UTC day', async () => {
    const { env, key } = await budgetEnv({ dailyTokens: 100 });
    expect((await send(env, key)).res.status).toBe(200);
    const { res, text } = await send(env, key);
    expect(res.status).toBe(429);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'insufficient_quota' } });
    expect(Math.abs(Number(res.headers.get('retry-after')) - secondsToNextPeriod('day', Date.now()))).toBeLessThanOrEqual(2);
  });

  it('200 concurrent requests against a nearly spent budget overshoot it by at most one request', async () => {
    const budget = COST * 10.5;
    const { env, name, key } = await budgetEnv({ monthlyBudgetUsd: budget });
    const results = await Promise.all(Array.from({ length: 200 }, () => send(env, key)));
    const statuses = results.map((r) => r.res.status);
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 429).length).toBe(200);
    expect(ok).toBeGreaterThanOrEqual(1);
    const spent = (await meterOf(name).budget()).spentUsdThisMonth;
    expect(spent).toBeCloseTo(ok * COST, 12);
    expect(spent).toBeLessThanOrEqual(budget + COST);
    // Every reservation is settled: once spent is below the budget, a request passes again.
    expect(spent >= budget || (await send(env, key)).res.status === 200).toBe(true);
  });

  it('a cache hit spends no budget, and a spent budget refuses cached answers too', async () => {
    const { env, name, key } = await budgetEnv({ monthlyBudgetUsd: COST * 1.5 });
    const cached = async () => {
      const ctx = createExecutionContext();
      const init = { method: 'POST', headers: userHeaders(key, { 'X-Switchyard-Cache-Ttl': '600' }), body: body() };
      const res = await app.request('/groq/v1/chat/completions', init, env, ctx);
      await res.text();
      await waitOnExecutionContext(ctx);
      return res;
    };
    const miss = await cached();
    expect([miss.status, miss.headers.get('x-switchyard-cache')]).toEqual([200, 'MISS']);
    const hit = await cached();
    expect([hit.status, hit.headers.get('x-switchyard-cache')]).toEqual([200, 'HIT']);
    expect((await meterOf(name).budget()).spentUsdThisMonth).toBeCloseTo(COST, 12);
    expect((await send(env, key)).res.status).toBe(200);
    const refused = await cached();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-switchyard-cache')).toBeNull();
  });

  it('refuses a model without prices to a user with a monthly budget (its cost could not be counted)', async () => {
    const { env, key } = await budgetEnv({ monthlyBudgetUsd: 10 });
    const ctx = createExecutionContext();
    const res = await app.request('/openai/v1/chat/completions', { method: 'POST', headers: userHeaders(key), body: body('gpt-4o-mini') }, env, ctx);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'model_unpriced' } });
  });
});
