import * as z from 'zod';
import { base64FromUrl, base64ToUrl } from '../base64';
import { queryD1, USAGE_DB } from '../d1/query';
import type { Bindings } from '../env';

// The operator's queries over the D1 table `usage_records` (migrations/0001_usage.sql): totals grouped
// by user / provider / model / day, and the request log, newest first, paged by a cursor.

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((day) => {
    const time = Date.parse(`${day}T00:00:00Z`);
    return !Number.isNaN(time) && new Date(time).toISOString().startsWith(day);
  }, 'is not a calendar date');

export const GROUP_FIELDS = ['user', 'provider', 'model', 'day'] as const;
export type GroupField = (typeof GROUP_FIELDS)[number];

export const UsageQuery = z
  .strictObject({
    from: isoDay.optional(),
    to: isoDay.optional(),
    group_by: z
      .string()
      .optional()
      .transform((value) => (value ? value.split(',').map((field) => field.trim()) : []))
      .pipe(
        z
          .array(z.enum(GROUP_FIELDS, { message: `each of user, provider, model, day` }))
          .refine((fields) => new Set(fields).size === fields.length, 'names a field twice'),
      ),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from is after to', path: ['from'] });

export type UsageQuery = z.infer<typeof UsageQuery>;

export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  /** USD of the priced requests; null when none was priced. */
  cost_usd: number | null;
  /** Requests of unpriced models (their cost is unknown, not 0). */
  unpriced_requests: number;
  /** Cache hits: what their answers would have cost (null when no hit was priced). */
  saved_usd: number | null;
  cache_hits: number;
}

/** The first and last day of a period: by default the current UTC calendar month up to today. */
export function period(query: { from?: string; to?: string }, now = new Date()) {
  const today = now.toISOString().slice(0, 10);
  return { from: query.from ?? `${today.slice(0, 8)}01`, to: query.to ?? today };
}

/** Totals per group over the days `from`..`to` (inclusive). */
export async function usageTotals(
  env: Bindings,
  query: UsageQuery,
): Promise<{ from: string; to: string; data: (Partial<Record<GroupField, string | null>> & UsageTotals)[] }> {
  const { from, to } = period(query);
  // Group columns come from GROUP_FIELDS only (validated above), never from the request text.
  const groups = query.group_by.map((field) => `"${field}"`);
  const select = [
    ...groups,
    'COUNT(*) AS requests',
    'SUM(status >= 400) AS errors',
    'SUM(input_tokens) AS input_tokens',
    'SUM(output_tokens) AS output_tokens',
    'SUM(cost_usd) AS cost_usd',
    'SUM(cost_usd IS NULL) AS unpriced_requests',
    "SUM(cache = 'hit') AS cache_hits",
    'SUM(saved_usd) AS saved_usd',
  ];
  const order = [...(query.group_by.includes('day') ? ['day'] : []), 'cost_usd DESC', 'requests DESC', ...groups];
  const sql = `SELECT ${select.join(', ')} FROM usage_records WHERE day BETWEEN ?1 AND ?2${groups.length ? ` GROUP BY ${groups.join(', ')}` : ''} ORDER BY ${order.join(', ')}`;
  const { results } = await queryD1(env, USAGE_DB, (db) => db.prepare(sql).bind(from, to).all<Record<string, unknown> & UsageTotals>());
  // With no group and no records, SQL still yields one row of zeros (and null sums).
  const data = results.map((row) => ({
    ...row,
    errors: row.errors ?? 0,
    input_tokens: row.input_tokens ?? 0,
    output_tokens: row.output_tokens ?? 0,
    unpriced_requests: row.unpriced_requests ?? 0,
    cache_hits: row.cache_hits ?? 0,
  }));
  return { from, to, data };
}

const STATUS = /^(?:[1-5]\d\d|[1-5]xx)$/;

export const RequestsQuery = z.strictObject({
  user: z.string().min(1).optional(),
  provider: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  status: z.string().regex(STATUS, 'must be a status (429) or a class (4xx)').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).optional(),
});

export type RequestsQuery = z.infer<typeof RequestsQuery>;

/** A page position: the (time, id) of the last record shown. */
interface Cursor {
  time: string;
  id: string;
}

const encodeCursor = (cursor: Cursor) => base64ToUrl(btoa(JSON.stringify([cursor.time, cursor.id])));

/** The cursor's position, or undefined when it is not one this API gave out. */
export function decodeCursor(text: string): Cursor | undefined {
  try {
    const [time, id] = JSON.parse(atob(base64FromUrl(text))) as unknown[];
    return typeof time === 'string' && typeof id === 'string' ? { time, id } : undefined;
  } catch {
    return undefined;
  }
}

interface RecordRow {
  id: string;
  time: string;
  day: string;
  stream: number;
  [column: string]: unknown;
}

/** Records matching the filters, newest first, `limit` per page; `next` continues after the last. */
export async function requestLog(env: Bindings, query: RequestsQuery, after?: Cursor) {
  const where: string[] = [];
  const binds: unknown[] = [];
  for (const field of ['user', 'provider', 'model'] as const) {
    const value = query[field];
    if (value !== undefined) {
      where.push(`"${field}" = ?`);
      binds.push(value);
    }
  }
  if (query.status?.endsWith('xx')) {
    const floor = Number(query.status[0]) * 100;
    where.push('status >= ? AND status < ?');
    binds.push(floor, floor + 100);
  } else if (query.status !== undefined) {
    where.push('status = ?');
    binds.push(Number(query.status));
  }
  if (after) {
    where.push('(time < ? OR (time = ? AND id < ?))');
    binds.push(after.time, after.time, after.id);
  }
  const sql = `SELECT * FROM usage_records${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ?`;
  const { results } = await queryD1(env, USAGE_DB, (db) =>
    db
      .prepare(sql)
      .bind(...binds, query.limit + 1)
      .all<RecordRow>(),
  );
  const page = results.slice(0, query.limit);
  const last = page.at(-1);
  return {
    data: page.map(({ day: _, stream, ...record }) => ({ ...record, stream: stream === 1 })),
    next: results.length > query.limit && last ? encodeCursor(last) : null,
  };
}
