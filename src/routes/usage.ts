import { zValidator } from '@hono/zod-validator';
import { Hono } from 'hono';
import * as z from 'zod';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { userAuth } from '../middleware/auth';
import { usageTotals, userRecord } from '../usage/queries';

// GET /v1/usage and GET /v1/usage/requests/:id: a user's own usage (README, "Usage and budgets").

const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((value) => !Number.isNaN(Date.parse(value)), 'must be a real date');

const Range = z.object({ from: day.optional(), to: day.optional() });

export const usageRoutes = new Hono<Env>();

usageRoutes.get(
  '/v1/usage',
  userAuth,
  zValidator('query', Range, (result) => {
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new GatewayError(400, `query parameter "${issue.path.join('.')}" ${issue.message}`, 'invalid_query');
    }
  }),
  async (c) => {
    const today = new Date().toISOString().slice(0, 10);
    const { from = `${today.slice(0, 7)}-01`, to = today } = c.req.valid('query');
    if (from > to) throw new GatewayError(400, `"from" (${from}) is after "to" (${to})`, 'invalid_query');
    return c.json(await usageTotals(c.env, c.get('userId'), c.get('userName'), c.get('user'), from, to));
  },
);

usageRoutes.get('/v1/usage/requests/:id', userAuth, async (c) => {
  const record = await userRecord(c.env, c.get('userId'), c.req.param('id'));
  if (!record) throw new GatewayError(404, `no request "${c.req.param('id')}" of yours is recorded`, 'request_not_found');
  return c.json(record);
});
