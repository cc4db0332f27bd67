import { Hono } from 'hono';
import type { Env } from '../env';
import { type HealthReport, healthReport } from '../health/report';
import { operatorAuth } from '../middleware/auth';

// GET /healthz: anyone gets {status}; the operator (bearer = operator token) gets every check and
// the key state of each provider. A wrong credential is refused, not silently given the public view.

export const healthRoutes = new Hono<Env>();

/** The anonymous view is computed at most once per this many ms per isolate: probing it costs nothing. */
const PUBLIC_CACHE_MS = 5_000;
// A value, never a promise another request would await (it would go on in that request's I/O context).
let publicReport: { at: number; report: HealthReport } | undefined;

healthRoutes.get(
  '/healthz',
  (c, next) => (c.req.header('authorization') === undefined ? next() : operatorAuth(c, next)),
  async (c) => {
    const operator = c.req.header('authorization') !== undefined;
    if (!operator && (!publicReport || Date.now() - publicReport.at > PUBLIC_CACHE_MS)) {
      publicReport = { at: Date.now(), report: await healthReport(c.env) };
    }
    const report = operator ? await healthReport(c.env) : publicReport!.report;
    return c.json(operator ? report : { status: report.status }, report.status === 'ok' ? 200 : 503, { 'cache-control': 'no-store' });
  },
);
