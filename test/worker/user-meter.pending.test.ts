import { env as testEnv, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { readyDb } from '../../src/d1/schema';
import { UserMeter } from '../../src/limits/user-meter';
import type { UsageRecord } from '../../src/usage/record';

// The user object keeps each settle's records as one row (its batch) until an alarm writes them to D1:
// whole batches, at most 500 records per write, oldest first. Records an object kept one row each
// before batches were kept whole move into batch rows once, and are flushed like the others.

const meterOf = (userId: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${userId}`));

const recordOf = (userId: string, n: number): UsageRecord => ({
  id: `${userId}-${n}`,
  client_request_id: null,
  time: new Date().toISOString(),
  user_id: userId,
  user: userId,
  route: 'proxy',
  operation: 'chat/completions',
  provider: 'groq',
  model: 'llama-3.3-70b-versatile',
  status: 200,
  stream: false,
  attempts: 1,
  input_tokens: 10,
  output_tokens: 5,
  cached_input_tokens: 0,
  usage_source: 'provider',
  cost_usd: 0.001,
  latency_ms: 12,
  first_byte_ms: 8,
  cache: 'none',
  error_code: null,
  saved_usd: null,
});

const batchOf = (userId: string, from: number, count: number) => ({
  id: crypto.randomUUID(),
  records: Array.from({ length: count }, (_, i) => recordOf(userId, from + i)),
  releases: [],
  ends: [],
});

async function storedIds(userId: string): Promise<string[]> {
  const db = await readyDb(testEnv.DB);
  const { results } = await db.prepare('SELECT id FROM usage_records WHERE user_id = ?').bind(userId).all<{ id: string }>();
  return results.map((row) => row.id).sort();
}

const idsOf = (userId: string, from: number, count: number) => Array.from({ length: count }, (_, i) => `${userId}-${from + i}`).sort();

describe('pending records in the user object', () => {
  it('are flushed as whole batches, at most 500 records a write, oldest first, until none is left', async () => {
    const userId = 'pending-flush';
    const meter = meterOf(userId);
    for (let b = 0; b < 3; b++) await meter.settle(batchOf(userId, b * 200, 200));
    expect(await meter.pendingRecords()).toHaveLength(600);
    expect((await meter.budget()).spentUsdThisMonth).toBeCloseTo(0.6, 9);

    expect(await runDurableObjectAlarm(meter)).toBe(true);
    expect(await storedIds(userId)).toEqual(idsOf(userId, 0, 400));
    expect((await meter.pendingRecords()).map((r) => r.id).sort()).toEqual(idsOf(userId, 400, 200));
    // The rest goes with the next alarm, set to fire at once.
    await vi.waitFor(async () => expect(await storedIds(userId)).toEqual(idsOf(userId, 0, 600)));
    expect(await meter.pendingRecords()).toEqual([]);
  });

  it('are found by id while pending', async () => {
    const userId = 'pending-find';
    const meter = meterOf(userId);
    await meter.settle(batchOf(userId, 0, 3));
    const second = batchOf(userId, 3, 2);
    await meter.settle(second);
    expect(await meter.pendingRecords(`${userId}-4`)).toEqual([second.records[1]]);
    expect(await meter.pendingRecords(`${userId}-9`)).toEqual([]);
  });

  it('kept one row each by an older version move into batch rows once and reach D1', async () => {
    const userId = 'pending-legacy';
    const meter = meterOf(userId);
    const legacy = [recordOf(userId, 0), recordOf(userId, 1)];
    await runInDurableObject(meter, async (_instance: UserMeter, state) => {
      state.storage.sql.exec('CREATE TABLE pending (id TEXT PRIMARY KEY, record TEXT NOT NULL)');
      for (const record of legacy) state.storage.sql.exec('INSERT INTO pending (id, record) VALUES (?, ?)', record.id, JSON.stringify(record));
      // The object as the new version starts it on the same storage.
      const upgraded = new UserMeter(state, testEnv);
      expect(upgraded.pendingRecords()).toEqual(legacy);
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'pending'").toArray()).toEqual([]);
      // Started again: nothing left to move, nothing moved twice.
      expect(new UserMeter(state, testEnv).pendingRecords()).toEqual(legacy);
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(meter)).toBe(true);
    expect(await storedIds(userId)).toEqual(idsOf(userId, 0, 2));
    expect(await meter.pendingRecords()).toEqual([]);
  });
});
