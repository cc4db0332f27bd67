import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, userHeaders } from './helpers/env';
import { mockUpstream } from './helpers/fetch';
import { pricedConfig } from './helpers/prices';
import { jsonResponse } from './helpers/wire';

// Leases through the app: requests admitted with no call to the user's object, settles batched, and
// each request's record durable by the time its waitUntil ends.

afterEach(() => vi.restoreAllMocks());

const USAGE = { prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 };
const COST = (123 * 0.59 + 45 * 0.79) / 1e6;
/** Leases of a production life and settles batched as in production (the worker tests' own default is short). */
const PRODUCTION = { LEASE_MS: '5000', SETTLE_INTERVAL_MS: '1000' };

let serial = 0;

/**
 * A user far from their limits, and an env whose USER_METER counts the calls made to it. The wrapper
 * is a namespace of its own, so this env's isolate-side state (leases, settle batches) is its own too,
 * as a new isolate's would be.
 */
async function countedEnv(limits: Record<string, unknown>, vars: Partial<Bindings> = PRODUCTION) {
  const name = `lease-${Date.now().toString(36)}-${serial++}`;
  const key = `key-${name}`;
  const env = await makeEnv({ config: pricedConfig(), users: { [name]: { key, ...limits } }, vars });
  const calls = { lease: 0, settle: 0 };
  const meters = testEnv.USER_METER;
  const counted = () =>
    ({
      idFromName: (id: string) => meters.idFromName(id),
      get: (id: DurableObjectId) => {
        const stub = meters.get(id);
        return {
          lease: (...args: Parameters<typeof stub.lease>) => (calls.lease++, stub.lease(...args)),
          settle: (...args: Parameters<typeof stub.settle>) => (calls.settle++, stub.settle(...args)),
          snapshot: () => stub.snapshot(),
          pendingRecords: (id?: string) => stub.pendingRecords(id),
        };
      },
    }) as unknown as Bindings['USER_METER'];
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
  return { env: { ...env, USER_METER: counted() }, name, key, calls, newIsolate: () => ({ ...env, USER_METER: counted() }) };
}

const body = JSON.stringify({ model: 'llama-3.3-70b-versatile', max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(300) }] });

async function send(env: Bindings, key: string) {
  const ctx = createExecutionContext();
  const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(key), body }, env, ctx);
  const text = await res.text();
  return { res, text, settled: waitOnExecutionContext(ctx), id: res.headers.get('x-request-id')! };
}

const meterOf = (name: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${name}`));

/** The ids of a user's records: pending in their object, or already flushed to D1 by its alarm. */
async function recordIds(name: string): Promise<string[]> {
  const pending = (await meterOf(name).pendingRecords()).map((record) => record.id);
  const { results } = await testEnv.DB.prepare('SELECT id FROM usage_records WHERE user_id = ?').bind(name).all<{ id: string }>();
  return [...new Set([...pending, ...results.map((row) => row.id)])].sort();
}

describe('leases', () => {
  it('admits 100 requests of a user far from every limit with a handful of lease calls, and settles them in batches', async () => {
    const { env, name, key, calls } = await countedEnv({ rpm: 1_000_000, monthlyBudgetUsd: 1_000, dailyTokens: 1e9 });
    const sent = [];
    for (let i = 0; i < 100; i++) {
      const answer = await send(env, key);
      expect(answer.res.status).toBe(200);
      expect(answer.res.headers.get('x-ratelimit-limit')).toBe('1000000');
      sent.push(answer);
    }
    await Promise.all(sent.map((answer) => answer.settled));
    // 16, then 32, then 64 requests: a lease runs out early and the next one is twice the size.
    expect(calls.lease).toBeLessThanOrEqual(4);
    expect(calls.settle).toBeLessThan(20);
    const meter = meterOf(name);
    expect(await recordIds(name)).toEqual(sent.map((answer) => answer.id).sort());
    expect((await meter.budget()).spentUsdThisMonth).toBeCloseTo(100 * COST, 9);
    // Every lease ended (the last at its expiry) and gave back what it did not use.
    expect(await meter.leases()).toEqual({ usd: 0, tokens: 0, leases: 0 });
  }, 30_000);

  it("keeps a user's rpm exact across isolates: 12 of 40 requests over four isolates for rpm 12", async () => {
    const { key, newIsolate } = await countedEnv({ rpm: 12 });
    const isolates = [newIsolate(), newIsolate(), newIsolate(), newIsolate()];
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => send(isolates[i % 4]!, key)));
    expect(answers.filter((a) => a.res.status === 200)).toHaveLength(12);
    expect(answers.filter((a) => a.res.status === 429)).toHaveLength(28);
    await Promise.all(answers.map((a) => a.settled));
  }, 30_000);

  it('a record is durable once its waitUntil has ended: an isolate gone right after loses nothing', async () => {
    const { env, name, key, newIsolate } = await countedEnv({ rpm: 1_000_000, monthlyBudgetUsd: 1_000 });
    // Ten requests at once: one settle carries the first, the next one the nine that gathered meanwhile.
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(env, key)));
    await Promise.all(answers.map((a) => a.settled));
    // The isolate ends here. A new one (its own leases and batches) sees every record in the user's object.
    expect(await recordIds(name)).toEqual(answers.map((a) => a.id).sort());
    const usage = await app.request('/v1/usage', { headers: userHeaders(key) }, newIsolate());
    expect((await usage.json<{ requests: number }>()).requests).toBe(10);
  }, 30_000);

  it('a spent budget refuses at once in an isolate that still holds a lease', async () => {
    const { env, key } = await countedEnv({ monthlyBudgetUsd: COST * 2.5 }, { LEASE_MS: '5000', SETTLE_INTERVAL_MS: '0' });
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const answer = await send(env, key);
      await answer.settled;
      statuses.push(answer.res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  }, 30_000);
});
