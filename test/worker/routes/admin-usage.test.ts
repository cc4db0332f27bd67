import { env as testEnv } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { makeEnv, userHeaders } from '../helpers/env';
import { VAULT_TOKEN } from '../helpers/vault';

// The operator's usage queries over D1: totals by group and the request log with filters and paging.

const operator = (token = VAULT_TOKEN) => ({ authorization: `Bearer ${token}` });
const get = (env: Bindings, path: string, headers: Record<string, string> = operator()) => app.request(path, { headers }, env);

interface Row {
  id: string;
  time: string;
  user: string;
  provider: string;
  model: string | null;
  status: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  stream?: boolean;
}

const row = (
  id: string,
  time: string,
  user: string,
  provider: string,
  model: string | null,
  status: number,
  input: number,
  output: number,
  cost: number | null,
): Row => ({
  id,
  time,
  user,
  provider,
  model,
  status,
  input_tokens: input,
  output_tokens: output,
  cost_usd: cost,
});

// October 2026: three days, two users, three models (one unpriced), errors among them.
const ROWS: Row[] = [
  row('r01', '2026-10-01T08:00:00.000Z', 'alice', 'groq', 'llama-3.3-70b-versatile', 200, 100, 50, 0.0001),
  row('r02', '2026-10-01T09:00:00.000Z', 'alice', 'groq', 'llama-3.3-70b-versatile', 200, 200, 100, 0.0002),
  row('r03', '2026-10-01T10:00:00.000Z', 'bob', 'anthropic', 'claude-sonnet-4-5', 200, 1000, 500, 0.0105),
  row('r04', '2026-10-02T08:00:00.000Z', 'bob', 'anthropic', 'claude-sonnet-4-5', 429, 1000, 0, 0),
  row('r05', '2026-10-02T09:00:00.000Z', 'alice', 'mistral', 'mistral-small', 200, 300, 300, null),
  row('r06', '2026-10-02T09:00:00.000Z', 'bob', 'groq', 'llama-3.3-70b-versatile', 502, 10, 0, 0),
  row('r07', '2026-10-03T12:00:00.000Z', 'alice', 'anthropic', 'claude-sonnet-4-5', 200, 2000, 1000, 0.021),
  row('r08', '2026-10-03T13:00:00.000Z', 'bob', 'mistral', 'mistral-small', 200, 50, 50, null),
  row('r09', '2026-10-03T14:00:00.000Z', 'bob', 'groq', 'llama-3.3-70b-versatile', 200, 400, 200, 0.0004),
  row('r10', '2026-09-30T23:59:59.999Z', 'alice', 'groq', 'llama-3.3-70b-versatile', 200, 7, 7, 0.5),
];

async function insert(db: D1Database, rows: Row[]) {
  await db.batch(
    rows.map((r) =>
      db
        .prepare(
          `INSERT INTO usage_records (id, time, day, user_id, user, route, operation, provider, model, status, stream, attempts, input_tokens,
           output_tokens, cached_input_tokens, usage_source, cost_usd, latency_ms, first_byte_ms, cache, error_code)
           VALUES (?, ?, ?, ?, ?, 'proxy', 'chat/completions', ?, ?, ?, ?, 1, ?, ?, 0, 'provider', ?, 100, 20, 'none', ?)`,
        )
        .bind(
          r.id,
          r.time,
          r.time.slice(0, 10),
          r.user,
          r.user,
          r.provider,
          r.model,
          r.status,
          r.stream ? 1 : 0,
          r.input_tokens,
          r.output_tokens,
          r.cost_usd,
          r.status >= 400 ? 'upstream_error' : null,
        ),
    ),
  );
}

beforeAll(async () => {
  await insert(testEnv.DB, ROWS);
});

const OCTOBER = 'from=2026-10-01&to=2026-10-31';

describe('operator credential on the usage queries', () => {
  it.each([
    ['no credential', {}],
    ['a user key', userHeaders()],
    ['a wrong token', operator('wrong-token')],
  ])('%s is refused with 401', async (_, headers) => {
    const env = await makeEnv();
    for (const path of [`/admin/usage?${OCTOBER}`, '/admin/requests']) {
      const res = await get(env, path, headers as Record<string, string>);
      expect(res.status, path).toBe(401);
      expect(await res.text()).not.toContain('alice');
    }
  });
});

describe('GET /admin/usage', () => {
  it('without group_by: one line of totals for the period, unpriced requests counted apart', async () => {
    const env = await makeEnv();
    const res = await get(env, `/admin/usage?${OCTOBER}`);
    expect(res.status).toBe(200);
    const body = await res.json<{ data: Record<string, number>[] }>();
    expect(body).toMatchObject({ object: 'list', from: '2026-10-01', to: '2026-10-31' });
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ requests: 9, errors: 2, input_tokens: 5060, output_tokens: 2200, unpriced_requests: 2 });
    expect(body.data[0]!.cost_usd).toBeCloseTo(0.0322, 10);
  });

  it('group_by=user,model: totals per pair, most expensive first', async () => {
    const env = await makeEnv();
    const { data } = await (await get(env, `/admin/usage?${OCTOBER}&group_by=user,model`)).json<{ data: Record<string, unknown>[] }>();
    expect(data.map((d) => `${d.user}/${d.model}`)).toEqual([
      'alice/claude-sonnet-4-5',
      'bob/claude-sonnet-4-5',
      'bob/llama-3.3-70b-versatile',
      'alice/llama-3.3-70b-versatile',
      'alice/mistral-small',
      'bob/mistral-small',
    ]);
    expect(data[1]).toEqual({
      user: 'bob',
      model: 'claude-sonnet-4-5',
      requests: 2,
      errors: 1,
      input_tokens: 2000,
      output_tokens: 500,
      cost_usd: 0.0105,
      unpriced_requests: 0,
      cache_hits: 0,
      saved_usd: null,
    });
    // A group of unpriced models only: its cost is unknown, not 0.
    expect(data[4]).toEqual({
      user: 'alice',
      model: 'mistral-small',
      requests: 1,
      errors: 0,
      input_tokens: 300,
      output_tokens: 300,
      cost_usd: null,
      unpriced_requests: 1,
      cache_hits: 0,
      saved_usd: null,
    });
  });

  it('group_by=day,provider: days in order; the period bounds are inclusive UTC days', async () => {
    const env = await makeEnv();
    const { data } = await (await get(env, '/admin/usage?from=2026-09-30&to=2026-10-02&group_by=day,provider')).json<{ data: Record<string, unknown>[] }>();
    expect(data.map((d) => [d.day, d.provider, d.requests])).toEqual([
      ['2026-09-30', 'groq', 1],
      ['2026-10-01', 'anthropic', 1],
      ['2026-10-01', 'groq', 2],
      // Same cost (0): by name; an unknown cost (null) last.
      ['2026-10-02', 'anthropic', 1],
      ['2026-10-02', 'groq', 1],
      ['2026-10-02', 'mistral', 1],
    ]);
  });

  it('the period defaults to the current month up to today', async () => {
    const env = await makeEnv();
    const today = new Date().toISOString().slice(0, 10);
    await insert(testEnv.DB, [row('today-1', new Date().toISOString(), 'carol', 'groq', 'llama-3.3-70b-versatile', 200, 1, 2, 0.25)]);
    const body = await (await get(env, '/admin/usage?group_by=user')).json<{ from: string; to: string; data: Record<string, unknown>[] }>();
    expect(body).toMatchObject({ from: `${today.slice(0, 8)}01`, to: today });
    expect(body.data).toEqual([
      { user: 'carol', requests: 1, errors: 0, input_tokens: 1, output_tokens: 2, cost_usd: 0.25, unpriced_requests: 0, cache_hits: 0, saved_usd: null },
    ]);
  });

  it('an empty period: zeros, and a null cost', async () => {
    const env = await makeEnv();
    const { data } = await (await get(env, '/admin/usage?from=2020-01-01&to=2020-01-31')).json<{ data: unknown[] }>();
    expect(data).toEqual([{ requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost_usd: null, unpriced_requests: 0, cache_hits: 0, saved_usd: null }]);
    const grouped = await (await get(env, '/admin/usage?from=2020-01-01&to=2020-01-31&group_by=user')).json<{ data: unknown[] }>();
    expect(grouped.data).toEqual([]);
  });

  it.each([
    ['from=2026-13-01', 'from'],
    ['from=2026-02-30', 'from'],
    ['to=yesterday', 'to'],
    ['from=2026-10-05&to=2026-10-01', 'from'],
    ['group_by=team', 'group_by'],
    ['group_by=user,user', 'group_by'],
    ['groupby=user', 'groupby'],
  ])('400 naming the parameter for %s', async (query, name) => {
    const env = await makeEnv();
    const res = await get(env, `/admin/usage?${query}`);
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { message: string; type: string } }>();
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain(name);
  });
});

describe('GET /admin/requests', () => {
  type Page = { object: string; data: Record<string, unknown>[]; next: string | null };
  const page = async (env: Bindings, query: string) => (await get(env, `/admin/requests?${query}`)).json<Page>();
  const ids = (p: Page) => p.data.map((r) => r.id as string);

  it('records newest first, in the record shape (no `day`, `stream` a boolean)', async () => {
    const env = await makeEnv();
    const body = await page(env, 'user=alice&limit=3');
    expect(body.object).toBe('list');
    expect(ids(body)).toEqual(['r07', 'r05', 'r02']);
    expect(body.data[0]).toEqual({
      id: 'r07',
      client_request_id: null,
      time: '2026-10-03T12:00:00.000Z',
      user_id: 'alice',
      user: 'alice',
      route: 'proxy',
      operation: 'chat/completions',
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      status: 200,
      stream: false,
      attempts: 1,
      input_tokens: 2000,
      output_tokens: 1000,
      cached_input_tokens: 0,
      usage_source: 'provider',
      cost_usd: 0.021,
      latency_ms: 100,
      first_byte_ms: 20,
      cache: 'none',
      error_code: null,
      saved_usd: null,
    });
  });

  it('cache hits: counted apart, at no cost, with the money they saved', async () => {
    const env = await makeEnv();
    await insert(testEnv.DB, [row('hit-miss', '2026-08-10T10:00:00.000Z', 'erin', 'openrouter', 'cache-test-model', 200, 100, 50, 0.004)]);
    for (const id of ['hit-1', 'hit-2']) {
      await testEnv.DB.prepare(
        `INSERT INTO usage_records (id, time, day, user, route, operation, provider, model, status, stream, attempts, input_tokens,
         output_tokens, cached_input_tokens, usage_source, cost_usd, latency_ms, first_byte_ms, cache, error_code, saved_usd)
         VALUES (?, '2026-08-10T11:00:00.000Z', '2026-08-10', 'erin', 'proxy', 'chat/completions', 'openrouter', 'cache-test-model', 200, 0, 0,
         100, 50, 0, 'provider', 0, 3, NULL, 'hit', NULL, 0.004)`,
      )
        .bind(id)
        .run();
    }
    const { data } = await (await get(env, '/admin/usage?from=2026-08-10&to=2026-08-10&group_by=user')).json<{ data: Record<string, unknown>[] }>();
    expect(data).toEqual([
      { user: 'erin', requests: 3, errors: 0, input_tokens: 300, output_tokens: 150, cost_usd: 0.004, unpriced_requests: 0, cache_hits: 2, saved_usd: 0.008 },
    ]);
  });

  it('pages with the cursor through every matching record exactly once (ties in time included)', async () => {
    const env = await makeEnv();
    const seen: string[] = [];
    let query = 'provider=groq&limit=2';
    for (let n = 0; n < 10; n++) {
      const body = await page(env, query);
      seen.push(...ids(body).filter((id) => !id.startsWith('today')));
      if (!body.next) break;
      query = `provider=groq&limit=2&cursor=${encodeURIComponent(body.next)}`;
    }
    expect(seen).toEqual(['r09', 'r06', 'r02', 'r01', 'r10']);
  });

  it('records with the same time are split across pages without loss or repeat', async () => {
    const env = await makeEnv();
    // r05 and r06 share 2026-10-02T09:00: one per page.
    const first = await page(env, 'provider=mistral&limit=1');
    const all: string[] = [];
    const body = await page(env, 'limit=1&status=2xx&user=alice');
    all.push(...ids(body));
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const p: Page = await page(env, `limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const id of ids(p)) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
      cursor = p.next;
    } while (cursor);
    expect([...seen].filter((id) => id.startsWith('r'))).toEqual(['r09', 'r08', 'r07', 'r06', 'r05', 'r04', 'r03', 'r02', 'r01', 'r10']);
    expect(ids(first)).toEqual(['r08']);
    expect(all).toEqual(['r07']);
  });

  it.each([
    ['user=bob', ['r09', 'r08', 'r06', 'r04', 'r03']],
    ['model=mistral-small', ['r08', 'r05']],
    ['provider=anthropic&user=bob', ['r04', 'r03']],
    ['status=429', ['r04']],
    ['status=5xx', ['r06']],
    ['status=4xx&user=alice', []],
  ])('filters: %s', async (query, expected) => {
    const env = await makeEnv();
    expect(ids(await page(env, `${query}&limit=50`)).filter((id) => !id.startsWith('today'))).toEqual(expected);
  });

  it('the last page has next: null', async () => {
    const env = await makeEnv();
    expect((await page(env, 'user=bob&limit=4')).next).not.toBeNull();
    const all = await page(env, 'user=bob&limit=5');
    expect(all.next).toBeNull();
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=ten', 'limit'],
    ['status=2x', 'status'],
    ['status=600', 'status'],
    ['cursor=not-a-cursor', 'cursor'],
    ['sort=asc', 'sort'],
  ])('400 naming the parameter for %s', async (query, name) => {
    const env = await makeEnv();
    const res = await get(env, `/admin/requests?${query}`);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain(name);
  });
});
