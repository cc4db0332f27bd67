import { env as testEnv } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { readyDb } from '../../../src/d1/schema';
import { INSERT_RECORDS_SQL, RECORD_COLUMNS, recordsParam, rowRecord, type UsageRecord } from '../../../src/usage/record';

// Usage records reach D1 as one statement per flush: the records as one JSON array, taken apart by
// SQLite (json_each). Every column must land as a column-by-column insert would have put it.

const base: UsageRecord = {
  id: 'rec-json-1',
  client_request_id: 'client-7',
  time: '2026-12-07T23:59:59.123Z',
  user_id: 'u-1',
  user: 'ana',
  route: 'proxy',
  operation: 'chat/completions',
  provider: 'groq',
  model: 'llama-3.3-70b-versatile',
  status: 200,
  stream: true,
  attempts: 2,
  input_tokens: 1234,
  output_tokens: 56,
  cached_input_tokens: 7,
  usage_source: 'provider',
  cost_usd: 0.000123456789,
  latency_ms: 321,
  first_byte_ms: 45,
  cache: 'miss',
  error_code: null,
  saved_usd: null,
};

describe('INSERT_RECORDS_SQL', () => {
  it('stores every column of every record as it was, nulls, booleans, fractions and quotes included; a record stored before is left as it is', async () => {
    const db = await readyDb(testEnv.DB);
    const records: UsageRecord[] = [
      base,
      {
        ...base,
        id: 'rec-json-2',
        stream: false,
        model: null,
        client_request_id: null,
        first_byte_ms: null,
        cost_usd: null,
        status: 502,
        error_code: 'upstream_error',
      },
      { ...base, id: 'rec-json-3', user: 'o\'brien "quoted" \\ ünïcode', cache: 'hit', cost_usd: 0, saved_usd: 0.5 },
    ];
    await db.prepare(INSERT_RECORDS_SQL).bind(recordsParam(records)).run();
    await db
      .prepare(INSERT_RECORDS_SQL)
      .bind(recordsParam([{ ...base, status: 599 }]))
      .run();
    const { results } = await db
      .prepare(`SELECT ${RECORD_COLUMNS.join(', ')} FROM usage_records WHERE id LIKE 'rec-json-%' ORDER BY id`)
      .all<Record<string, unknown>>();
    expect(results.map(rowRecord)).toEqual(records);
    expect(results.map((row) => [row.day, row.stream])).toEqual([
      ['2026-12-07', 1],
      ['2026-12-07', 0],
      ['2026-12-07', 1],
    ]);
  });
});
