import type { Context, MiddlewareHandler } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import type { AdmitRequest, Admission } from '../limits/user-meter';
import { settingsOf } from '../limits/settings';
import { rateLimitHeaders } from '../limits/verdicts';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { type CostBound, isPriced, reservationFor } from '../usage/price';
import type { UsageRoute } from '../usage/record';
import { UsageTap } from '../usage/tap';
import { settleUsage, userMeter } from '../usage/writer';

// The user's limits, decided by one call to the user's Durable Object: the requests per minute
// (`rpm`, else DEFAULT_RPM) and, on routes that reach a provider, the budget (`monthlyBudgetUsd`,
// `dailyTokens`) with a reservation of what the request may cost. A user with neither costs no call.
// Every answer carries `X-RateLimit-*`; a refusal is a 429 with `Retry-After`.

interface Limits {
  request: Omit<AdmitRequest, 'reserve'>;
  budgeted: boolean;
}

function limitsOf(c: Context<Env>): Limits {
  const user = c.get('user');
  const rpm = user.rpm ?? settingsOf(c.env).DEFAULT_RPM;
  const budgeted = user.monthlyBudgetUsd !== undefined || user.dailyTokens !== undefined;
  return { request: { rpm, monthlyBudgetUsd: user.monthlyBudgetUsd, dailyTokens: user.dailyTokens }, budgeted };
}

/**
 * Ask the user's object. When it cannot answer (an error, or no answer within STORE_TIMEOUT_MS), a
 * user without budgets is let through (the limiter must not take the gateway down); a user with
 * budgets is refused, since a budget is a promise.
 */
async function admit(c: Context<Env>, limits: Limits, cost: CostBound | undefined): Promise<{ admission?: Admission; headers: Record<string, string> }> {
  const request: AdmitRequest = { ...limits.request };
  if (cost && limits.budgeted) request.reserve = reservationFor(cost);
  let admission: Admission;
  try {
    admission = await withinMs(userMeter(c.env, c.get('userId')).admit(request), settingsOf(c.env).STORE_TIMEOUT_MS);
  } catch (err) {
    logEvent(c.env, 'error', { requestId: c.get('requestId'), event: 'rate_limiter_unavailable', reason: err instanceof Error ? err.message : String(err) });
    if (limits.budgeted && cost)
      throw new GatewayError(503, 'the budget of this user cannot be checked right now; retry shortly', 'budget_unavailable', { 'Retry-After': '5' });
    return { headers: {} };
  }
  const headers = admission.rate ? rateLimitHeaders(admission.rate) : {};
  const refused = admission.refused;
  if (refused) {
    throw new GatewayError(429, `user "${c.get('userName')}" ${refused.message}`, refused.code, { ...headers, 'Retry-After': String(refused.retryAfterS) });
  }
  return { admission, headers };
}

const needsCall = (limits: Limits, cost?: CostBound) => limits.request.rpm > 0 || (limits.budgeted && cost !== undefined);

/** Routes that reach no provider: the rate limit only, before anything else is done. */
export const userRateLimit: MiddlewareHandler<Env> = async (c, next) => {
  const limits = limitsOf(c);
  if (!needsCall(limits)) return next();
  const { headers } = await admit(c, limits, undefined);
  await withHeaders(c, headers, next);
};

/**
 * Routes that reach a provider. The handler calls `c.get('admit')` once it knows the models (so the
 * budget reservation is priced) and before it sends anything; a request refused earlier (a 400, an
 * unknown model) is still counted by the rate limit afterwards. The usage record is settled with
 * the reservation after the answer, in waitUntil.
 */
export const meteredUserLimits =
  (route: UsageRoute): MiddlewareHandler<Env> =>
  async (c, next) => {
    const limits = limitsOf(c);
    const userName = c.get('userName');
    let admitted = false;
    let reservation: string | undefined;
    let headers: Record<string, string> = {};
    let settled!: () => void;
    const finished = new Promise<void>((resolve) => (settled = resolve));
    const userId = c.get('userId');
    const origin = { id: c.get('requestId'), clientRequestId: c.get('clientRequestId'), userId, user: userName, route, startedAt: Date.now() };
    const tap = new UsageTap(origin, (record) => {
      if (!record && !reservation) return settled();
      void settleUsage(c.env, userId, reservation, record).finally(settled);
    });
    waitUntil(c, finished);
    c.set('tap', tap);
    c.set('admit', async (cost) => {
      if (admitted) return;
      admitted = true;
      tap.requestBytes = cost.bodyBytes;
      if (limits.budgeted && limits.request.monthlyBudgetUsd !== undefined) {
        const unpriced = cost.models.find((model) => !isPriced(model));
        if (unpriced !== undefined || cost.models.length === 0) {
          throw new GatewayError(
            403,
            `user "${userName}" has a monthly budget and model "${unpriced?.id ?? 'unknown'}" has no price in the vault`,
            'model_unpriced',
          );
        }
      }
      if (!needsCall(limits, cost)) return;
      const result = await admit(c, limits, cost);
      headers = result.headers;
      reservation = result.admission?.reservation;
      // Set before the answer exists, they are merged into it once; set after, each `c.header` copies it.
      for (const [name, value] of Object.entries(headers)) c.header(name, value);
    });
    try {
      await next();
    } catch (err) {
      const status = err instanceof GatewayError ? err.status : 500;
      if (!admitted && limits.request.rpm > 0) {
        admitted = true;
        try {
          headers = (await admit(c, limits, undefined)).headers;
        } catch (refusal) {
          tap.done(status, null);
          throw refusal;
        }
      }
      tap.done(status, err instanceof GatewayError ? (err.code ?? null) : 'internal_error');
      if (err instanceof GatewayError) throw new GatewayError(err.status, err.message, err.code, { ...headers, ...err.headers });
      throw err;
    }
    if (!admitted && limits.request.rpm > 0) {
      admitted = true;
      headers = (await admit(c, limits, undefined)).headers;
      for (const [name, value] of Object.entries(headers)) c.header(name, value);
    }
    // Hono has turned an error thrown by the handler into the answer already: its code is in c.error.
    const error = c.error instanceof GatewayError ? (c.error.code ?? null) : null;
    tap.done(c.res.status, error);
  };

async function withHeaders(c: Context<Env>, headers: Record<string, string>, next: () => Promise<void>) {
  // Set before the answer exists, they are merged into it once; set after, each `c.header` copies it.
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  try {
    await next();
  } catch (err) {
    // Errors thrown past this point (inside a combined middleware) keep the rate-limit headers.
    if (err instanceof GatewayError) throw new GatewayError(err.status, err.message, err.code, { ...headers, ...err.headers });
    throw err;
  }
}

/** Run `promise` after the answer: the isolate is kept alive for it; without an execution context (tests calling the app), it just runs. */
function waitUntil(c: Context<Env>, promise: Promise<unknown>) {
  try {
    c.executionCtx.waitUntil(promise);
  } catch {
    void promise;
  }
}
