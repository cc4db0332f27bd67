import { Hono } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { operatorAuth } from '../middleware/auth';
import { validate } from '../middleware/validate';
import { decodeCursor, requestLog, RequestsQuery, UsageQuery, usageTotals } from '../usage/report';

// The operator's usage queries (README, "Operating the gateway"): totals by group, and the request log.

export const adminUsageRoutes = new Hono<Env>();

const noStore = { 'cache-control': 'no-store' };

adminUsageRoutes.get('/admin/usage', operatorAuth, validate('query', UsageQuery), async (c) => {
  const { from, to, data } = await usageTotals(c.env, c.req.valid('query'));
  return c.json({ object: 'list', from, to, data }, 200, noStore);
});

adminUsageRoutes.get('/admin/requests', operatorAuth, validate('query', RequestsQuery), async (c) => {
  const query = c.req.valid('query');
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (query.cursor !== undefined && !after) throw new GatewayError(400, 'invalid query parameter: cursor: not a cursor this API gave out', 'invalid_request');
  const { data, next } = await requestLog(c.env, query, after);
  return c.json({ object: 'list', data, next }, 200, noStore);
});
