import { queryD1, USAGE_DB } from '../d1/query';
import type { Bindings } from '../env';
import { settingsOf } from '../limits/settings';
import { fromStore } from '../store-call';
import type { User } from '../vault/schema';
import { rowRecord, type UsageRecord } from './record';
import { userMeter } from './writer';

// A user's own usage: totals over a range of UTC days (GET /v1/usage) and one record by its request
// id (GET /v1/usage/requests/:id). Records not yet flushed to D1 are read from the user's object,
// so a request's record can be looked up as soon as it has settled.

export interface ModelTotals {
  provider: string;
  model: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface UsageTotals {
  user: string;
  from: string;
  to: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
  budget: { monthlyBudgetUsd: number | null; spentUsdThisMonth: number; dailyTokens: number | null; usedTokensToday: number };
  by_model: ModelTotals[];
}

interface Row {
  provider: string;
  model: string | null;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  unpriced_requests: number;
}

// Records still pending in the object are left out of the D1 sums (a flush may land between the two reads).
const TOTALS_SQL = `SELECT provider, model, COUNT(*) AS requests, SUM(status >= 400) AS errors,
  SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, TOTAL(cost_usd) AS cost_usd,
  SUM(cost_usd IS NULL) AS unpriced_requests
  FROM usage_records WHERE user_id = ? AND day BETWEEN ? AND ? AND id NOT IN (SELECT value FROM json_each(?))
  GROUP BY provider, model ORDER BY cost_usd DESC, requests DESC`;

const round = (usd: number) => Math.round(usd * 1e12) / 1e12;

/** The user's object holds the budget spent and the records not yet in D1. */
const METER = "the user's usage meter (Durable Object)";

/** One call to the user's object, within STORE_TIMEOUT_MS, as `fromStore` runs it. */
const onMeter = <T>(env: Bindings, userId: string, work: (meter: ReturnType<typeof userMeter>) => Promise<T>) =>
  fromStore(env, METER, settingsOf(env).STORE_TIMEOUT_MS, () => work(userMeter(env, userId)));

export async function usageTotals(env: Bindings, userId: string, userName: string, user: User, from: string, to: string): Promise<UsageTotals> {
  const { budget, pending } = await onMeter(env, userId, (meter) => meter.snapshot());
  const { results } = await queryD1(env, USAGE_DB, (db) =>
    db
      .prepare(TOTALS_SQL)
      .bind(userId, from, to, JSON.stringify(pending.map((record) => record.id)))
      .all<Row>(),
  );
  const byModel = new Map<string, Row>();
  for (const row of results) byModel.set(`${row.provider}\n${row.model}`, { ...row });
  for (const record of pending) {
    const day = record.time.slice(0, 10);
    if (day < from || day > to) continue;
    const id = `${record.provider}\n${record.model}`;
    const row = byModel.get(id) ?? {
      provider: record.provider,
      model: record.model,
      requests: 0,
      errors: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      unpriced_requests: 0,
    };
    row.requests++;
    row.errors += record.status >= 400 ? 1 : 0;
    row.input_tokens += record.input_tokens;
    row.output_tokens += record.output_tokens;
    row.cost_usd += record.cost_usd ?? 0;
    row.unpriced_requests += record.cost_usd === null ? 1 : 0;
    byModel.set(id, row);
  }
  const rows = [...byModel.values()];
  const sum = (field: keyof Row) => rows.reduce((total, row) => total + (row[field] as number), 0);
  return {
    user: userName,
    from,
    to,
    requests: sum('requests'),
    errors: sum('errors'),
    input_tokens: sum('input_tokens'),
    output_tokens: sum('output_tokens'),
    cost_usd: round(sum('cost_usd')),
    unpriced_requests: sum('unpriced_requests'),
    budget: {
      monthlyBudgetUsd: user.monthlyBudgetUsd ?? null,
      spentUsdThisMonth: round(budget.spentUsdThisMonth),
      dailyTokens: user.dailyTokens ?? null,
      usedTokensToday: budget.usedTokensToday,
    },
    by_model: rows
      .sort((a, b) => b.cost_usd - a.cost_usd || b.requests - a.requests)
      .map(({ provider, model, requests, input_tokens, output_tokens, cost_usd }) => ({
        provider,
        model,
        requests,
        input_tokens,
        output_tokens,
        cost_usd: round(cost_usd),
      })),
  };
}

/** One of the user's own records, or undefined (another user's record is not theirs to see). */
export async function userRecord(env: Bindings, userId: string, id: string): Promise<UsageRecord | undefined> {
  const [pending] = await onMeter(env, userId, (meter) => meter.pendingRecords(id));
  if (pending) return pending;
  const row = await queryD1(env, USAGE_DB, (db) =>
    db.prepare('SELECT * FROM usage_records WHERE id = ? AND user_id = ?').bind(id, userId).first<Record<string, unknown>>(),
  );
  return row ? rowRecord(row) : undefined;
}
