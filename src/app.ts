import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import type { Env } from './env';
import { notFound, onError } from './middleware/errors';
import { catalogRoutes } from './routes/catalog';
import { legacyHostFinal, proxyRoutes } from './routes/proxy';
import { unifiedRoutes } from './routes/unified';
import { vaultRoutes } from './routes/vault';

/** Response headers a browser client may read. */
export const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'X-Switchyard-Attempts',
  'X-Switchyard-Provider',
];

const app = new Hono<Env>();

app.use(
  cors({
    origin: (origin, c) => {
      const allowed = (c.env.CORS_ORIGINS ?? '*').split(',').map((o: string) => o.trim());
      return allowed.includes('*') ? '*' : allowed.includes(origin) ? origin : null;
    },
    allowMethods: ['GET', 'POST', 'PUT', 'OPTIONS'],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 86400,
  }),
);
app.use(requestId());
app.use(legacyHostFinal);

app.route('/', vaultRoutes);
app.route('/', catalogRoutes);
app.route('/', unifiedRoutes);
app.route('/', proxyRoutes);

app.onError(onError);
app.notFound(notFound);

export default app;
