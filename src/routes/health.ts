import { Hono } from 'hono';
import type { Env } from '../env';
import { type HealthReport, healthReport, securityReport } from '../health/report';
import { operatorAuth } from '../middleware/auth';

// GET /healthz: anyone gets {status}; the operator (bearer = operator token) gets every check, the
// key state of each provider and how guessable the secrets are. A wrong credential is refused, not
// silently given the public view. 503 only when the gateway can serve no request (health/report.ts).

export const healthRoutes = new Hono<Env>();

/** The anonymous view is computed at most once per this many ms per isolate: probing it costs nothing. */
const PUBLIC_CACHE_MS = 5_000;
// A value, never a promise another request would await (it would go on in that request's I/O context).
let publicStatus: { at: number; status: HealthReport['status'] } | undefined;

healthRoutes.get(
  '/healthz',
  (c, next) => (c.req.header('authorization') === undefined ? next() : operatorAuth(c, next)),
  async (c) => {
    if (c.req.header('authorization') !== undefined) {
      const [report, security] = await Promise.all([healthReport(c.env), securityReport(c.env)]);
      return c.json({ ...report, security } satisfies HealthReport, report.status === 'down' ? 503 : 200, { 'cache-control': 'no-store' });
    }
    if (!publicStatus || Date.now() - publicStatus.at > PUBLIC_CACHE_MS) publicStatus = { at: Date.now(), status: (await healthReport(c.env)).status };
    return c.json({ status: publicStatus.status }, publicStatus.status === 'down' ? 503 : 200, { 'cache-control': 'no-store' });
  },
);
