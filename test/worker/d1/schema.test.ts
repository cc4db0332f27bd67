import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { applyMigrations, forgetSchemaCheck } from '../../../src/d1/schema';
import type { Bindings } from '../../../src/env';
import { D1_MIGRATIONS } from '../../../src/generated/d1-migrations';
import { makeEnv, userHeaders } from '../helpers/env';
import { mockUpstream } from '../helpers/fetch';
import { jsonResponse } from '../helpers/wire';

// The worker brings D1 to the schema of migrations/ itself (issue 20): a deployment serves usage and
// stored responses before anyone ran `wrangler d1 migrations apply`, and either one skips what the
// other applied. FRESH_DB (vitest.config.mts) is a database no migration was applied to.

const fresh = () => (testEnv as unknown as { FRESH_DB: D1Database }).FRESH_DB;
const names = D1_MIGRATIONS.map((migration) => migration.name);

async function wipe(db: D1Database) {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
    .all<{ name: string }>();
  for (const { name } of results) await db.prepare(`DROP TABLE "${name}"`).run();
}

const recorded = async (db: D1Database) =>
  (await db.prepare('SELECT name FROM d1_migrations ORDER BY id').all<{ name: string }>()).results.map((row) => row.name);

beforeEach(async () => {
  await wipe(fresh());
  forgetSchemaCheck();
});
afterEach(() => {
  vi.restoreAllMocks();
  forgetSchemaCheck();
});

describe('the worker applies its own D1 schema', () => {
  it('applies every migration in order on an empty database, recording each by file name; a second pass applies none', async () => {
    expect(await applyMigrations(fresh())).toEqual(names);
    expect(await recorded(fresh())).toEqual(names);
    const columns = (await fresh().prepare('PRAGMA table_info(usage_records)').all<{ name: string }>()).results.map((c) => c.name);
    expect(columns).toEqual(expect.arrayContaining(['user_id', 'client_request_id', 'saved_usd']));
    expect(await applyMigrations(fresh())).toEqual([]);
  });

  it('two isolates racing apply each migration once, and neither fails', async () => {
    const [a, b] = await Promise.all([applyMigrations(fresh()), applyMigrations(fresh())]);
    expect([...a, ...b].sort()).toEqual([...names].sort());
    expect(await recorded(fresh())).toEqual(names);
  });

  it('a database `wrangler d1 migrations apply` migrated (its statements, then its record) gets nothing applied again', async () => {
    await fresh()
      .prepare('CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)')
      .run();
    // wrangler applies a file's SQL with an INSERT of its name appended; the first two, as an older deployment had them.
    for (const migration of D1_MIGRATIONS.slice(0, 2)) {
      await fresh().batch([
        ...migration.statements.map((s) => fresh().prepare(s)),
        fresh().prepare('INSERT INTO d1_migrations (name) values (?)').bind(migration.name),
      ]);
    }
    expect(await applyMigrations(fresh())).toEqual(names.slice(2));
    expect(await recorded(fresh())).toEqual(names);
  });

  it('a database whose schema was applied by hand (no d1_migrations rows) is recognised: nothing fails, the rest is applied, each recorded', async () => {
    // As `wrangler d1 execute --file migrations/…` leaves it (the benchmark did so): every file there, unrecorded.
    for (const migration of D1_MIGRATIONS) {
      for (const statement of migration.statements) await fresh().prepare(statement).run();
    }
    expect(await applyMigrations(fresh())).toEqual(names);
    expect(await recorded(fresh())).toEqual(names);
    const columns = (await fresh().prepare('PRAGMA table_info(responses)').all<{ name: string }>()).results.map((c) => c.name);
    expect(columns).toContain('user_id');
  });

  it('a migration that fails is rolled back whole and not recorded; the next try applies it', async () => {
    await applyMigrations(fresh());
    await wipe(fresh());
    // A table in the way of the first migration's index: CREATE INDEX on a table without the column fails.
    await fresh().prepare('CREATE TABLE usage_records (id TEXT PRIMARY KEY)').run();
    await expect(applyMigrations(fresh())).rejects.toThrow();
    expect(await recorded(fresh())).toEqual([]);
    await fresh().prepare('DROP TABLE usage_records').run();
    expect(await applyMigrations(fresh())).toEqual(names);
  });

  it('the gateway on an unmigrated database serves GET /v1/usage, /admin/usage, and /v1/responses with store and previous_response_id', async () => {
    const base = await makeEnv();
    const env: Bindings = { ...base, DB: fresh() };
    mockUpstream((call) =>
      jsonResponse({
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: call.json().model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      }),
    );
    const usage = await app.request('/v1/usage', { headers: userHeaders() }, env);
    expect(usage.status).toBe(200);
    forgetSchemaCheck();
    await wipe(fresh());
    const admin = await app.request('/admin/usage', { headers: { authorization: `Bearer ${env.AI_JSON_CRYPTOKEN}` } }, env);
    expect(admin.status).toBe(200);
    forgetSchemaCheck();
    await wipe(fresh());
    const send = async (body: unknown) => {
      const ctx = createExecutionContext();
      const res = await app.request('/v1/responses', { method: 'POST', headers: userHeaders(), body: JSON.stringify(body) }, env, ctx);
      const json = await res.json<{ id: string; output: unknown[] }>();
      await waitOnExecutionContext(ctx);
      return { res, json };
    };
    const first = await send({ model: 'groq/llama-3.3-70b-versatile', input: 'Hello' });
    expect(first.res.status).toBe(200);
    const second = await send({ model: 'groq/llama-3.3-70b-versatile', input: 'Again', previous_response_id: first.json.id });
    expect(second.res.status).toBe(200);
    expect((await app.request(`/v1/responses/${second.json.id}`, { headers: userHeaders() }, env)).status).toBe(200);
  });
});
