import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { Env } from './env';
import { notFound, onError } from './middleware/errors';
import { CLIENT_REQUEST_ID_HEADER, requestIds } from './middleware/request-id';
import { adminAlertRoutes } from './routes/admin-alerts';
import { adminUsageRoutes } from './routes/admin-usage';
import { adminUserRoutes } from './routes/admin-users';
import { healthRoutes } from './routes/health';
import { catalogRoutes } from './routes/catalog';
import { legacyHostFinal, proxyRoutes } from './routes/proxy';
import { responsesRoutes } from './routes/responses';
import { unifiedRoutes } from './routes/unified';
import { geminiRoutes } from './routes/gemini';
import { usageRoutes } from './routes/usage';
import { vaultRoutes } from './routes/vault';

/** Response headers a browser client may read. */
export const EXPOSED_HEADERS = [
  'X-Request-Id',
  CLIENT_REQUEST_ID_HEADER,
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'X-Switchyard-Attempts',
  'X-Switchyard-Provider',
  'X-Switchyard-Cache',
  'X-Switchyard-Stored',
  'X-Switchyard-Dropped-Tools',
  'X-Switchyard-Route',
  'Age',
];

const app = new Hono<Env>();

// One cors middleware per CORS_ORIGINS value, built on first use. With `*` (the default) it adds
// nothing once the answer exists: a dynamic origin would append `Vary`, which copies every answer.
const corsByOrigins = new Map<string, MiddlewareHandler<Env>>();
app.use((c, next) => {
  const origins = c.env.CORS_ORIGINS ?? '*';
  let handler = corsByOrigins.get(origins);
  if (!handler) {
    const allowed = origins.split(',').map((o) => o.trim());
    handler = cors({
      origin: allowed.includes('*') ? '*' : allowed,
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 86400,
    });
    corsByOrigins.set(origins, handler);
  }
  return handler(c, next);
});
app.use(requestIds);
app.use(legacyHostFinal);

app.route('/', vaultRoutes);
app.route('/', adminUserRoutes);
app.route('/', adminUsageRoutes);
app.route('/', adminAlertRoutes);
app.route('/', healthRoutes);
app.route('/', catalogRoutes);
app.route('/', usageRoutes);
app.route('/', unifiedRoutes);
app.route('/', geminiRoutes);
app.route('/', responsesRoutes);
app.route('/', proxyRoutes);

app.onError(onError);
app.notFound(notFound);

export default app;
