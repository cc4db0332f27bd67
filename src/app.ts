import { Hono } from 'hono';
import type { Env } from './env';
import { MemoRouter } from './memo-router';
import { notFound, onError } from './middleware/errors';
import { answerHeaders } from './middleware/answer-headers';
import { requestIds } from './middleware/request-id';
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

// MemoRouter: the TrieRouter, remembering recent matches (src/memo-router.ts says why).
const app = new Hono<Env>({ router: new MemoRouter() });

app.use(answerHeaders);
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
