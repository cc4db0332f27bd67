import { Hono } from 'hono';
import { alertSettings } from '../alerts/settings';
import { AlertsQuery, recentAlerts } from '../alerts/store';
import { queryD1, USAGE_DB } from '../d1/query';
import type { Env } from '../env';
import { operatorAuth } from '../middleware/auth';
import { validate } from '../middleware/validate';

// GET /admin/alerts (README, "Alerts"): the most recent alerts and how their delivery went, and
// whether a webhook is set (never its URL: a Slack webhook URL is a secret).

export const adminAlertRoutes = new Hono<Env>();

adminAlertRoutes.get('/admin/alerts', operatorAuth, validate('query', AlertsQuery), async (c) => {
  const settings = alertSettings(c.env);
  const data = await queryD1(c.env, USAGE_DB, (db) => recentAlerts(db, c.req.valid('query')));
  const webhook = { configured: settings.webhookUrl !== undefined, signed: settings.secret !== undefined, error: settings.webhookError ?? null };
  return c.json({ object: 'list', webhook, data }, 200, { 'cache-control': 'no-store' });
});
