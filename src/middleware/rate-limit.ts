import type { Context, MiddlewareHandler } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { answerHeader } from './answer-headers';
import { type Admitted, type LeaseBook, leaseBookOf, type Ticket } from '../limits/lease-book';
import type { Amounts, LeaseLimits } from '../limits/lease-ledger';
import { settingsOf } from '../limits/settings';
import { rateLimitHeaders } from '../limits/verdicts';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { type CostBound, isPriced, reservationFor } from '../usage/price';
import type { UsageRecord, UsageRoute } from '../usage/record';
import { UsageTap } from '../usage/tap';
import { traceRequest } from '../traces/exporter';
import { tracesOn } from '../traces/settings';
import { sendLeaseEnds, settle, userMeter } from '../usage/writer';

// The user's limits: the requests per minute (`rpm`, else DEFAULT_RPM) and, on routes that reach a
// provider, the budgets (`monthlyBudgetUsd`, `dailyTokens`) with a reservation of what the request may
// cost. Decided against a lease this isolate holds from the user's Durable Object (limits/lease-book.ts),
// so most requests make no call; a user with neither limit has no lease at all. Every answer carries
// `X-RateLimit-*`; a refusal is a 429 with `Retry-After`.

interface Limits {
  lease: LeaseLimits;
  budgeted: boolean;
}

function limitsOf(c: Context<Env>): Limits {
  const user = c.get('user');
  const rpm = user.rpm ?? settingsOf(c.env).DEFAULT_RPM;
  const budgeted = user.monthlyBudgetUsd !== undefined || user.dailyTokens !== undefined;
  return { lease: { rpm, monthlyBudgetUsd: user.monthlyBudgetUsd, dailyTokens: user.dailyTokens }, budgeted };
}

/**
 * Admit the request against a lease (asking the user's object for one when this isolate has none
 * with room). When the object cannot answer (an error, or no answer within STORE_TIMEOUT_MS), a user
 * without budgets is let through (the limiter must not take the gateway down); a user with budgets is
 * refused, since a budget is a promise.
 */
async function admit(c: Context<Env>, limits: Limits, cost: CostBound | undefined): Promise<{ ticket?: Ticket; headers: Record<string, string> }> {
  const reserve = cost && limits.budgeted ? reservationFor(cost) : undefined;
  const { env } = c;
  const userId = c.get('userId');
  const { STORE_TIMEOUT_MS, LEASE_MS } = settingsOf(env);
  let book: LeaseBook;
  let admitted: Admitted;
  try {
    book = leaseBookOf(env.USER_METER);
    admitted = await book.admit(
      userId,
      limits.lease,
      reserve,
      (request) => withinMs(userMeter(env, userId).lease({ ...request, leaseMs: LEASE_MS }), STORE_TIMEOUT_MS),
      Date.now() + STORE_TIMEOUT_MS,
    );
  } catch (err) {
    logEvent(env, 'error', { requestId: c.get('requestId'), event: 'rate_limiter_unavailable', reason: err instanceof Error ? err.message : String(err) });
    if (reserve)
      throw new GatewayError(503, 'the budget of this user cannot be checked right now; retry shortly', 'budget_unavailable', { 'Retry-After': '5' });
    return { headers: {} };
  }
  const granted = admitted.granted;
  // A new lease is given back at its end unless used up or replaced before: this request's waitUntil waits for that moment.
  if (granted)
    waitUntil(
      c,
      sleepUntil(granted.lease.expiresAt).then(() => (book.expire(userId, granted) ? sendLeaseEnds(env, userId) : undefined)),
    );
  const headers = admitted.rate ? rateLimitHeaders(admitted.rate) : {};
  const refused = admitted.refused;
  if (refused) {
    throw new GatewayError(429, `user "${c.get('userName')}" ${refused.message}`, refused.code, { ...headers, 'Retry-After': String(refused.retryAfterS) });
  }
  return { ticket: admitted.ticket, headers };
}

const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));

/** What a settled request spent, as its lease counts it: a cache hit spent no provider tokens. */
function spentBy(record: UsageRecord | undefined): Amounts {
  if (!record) return { usd: 0, tokens: 0 };
  return { usd: record.cost_usd ?? 0, tokens: record.cache === 'hit' ? 0 : record.input_tokens + record.output_tokens };
}

const needsLease = (limits: Limits, cost?: CostBound) => limits.lease.rpm > 0 || (limits.budgeted && cost !== undefined);

/** Routes that reach no provider: the rate limit only, before anything else is done. */
export const userRateLimit: MiddlewareHandler<Env> = async (c, next) => {
  const limits = limitsOf(c);
  if (!needsLease(limits)) return next();
  const { ticket, headers } = await admit(c, limits, undefined);
  if (ticket) settleTicket(c, ticket, undefined);
  await withHeaders(c, headers, next);
};

/**
 * Routes that reach a provider. The handler calls `c.get('admit')` once it knows the models (so the
 * budget reservation is priced) and before it sends anything; a request refused earlier (a 400, an
 * unknown model) is still counted by the rate limit afterwards. The usage record is settled with
 * the lease's reservation after the answer, in waitUntil.
 */
export const meteredUserLimits =
  (route: UsageRoute): MiddlewareHandler<Env> =>
  async (c, next) => {
    const limits = limitsOf(c);
    const userName = c.get('userName');
    let admitted = false;
    let ticket: Ticket | undefined;
    let headers: Record<string, string> = {};
    let settled!: () => void;
    const finished = new Promise<void>((resolve) => (settled = resolve));
    const userId = c.get('userId');
    const origin = { id: c.get('requestId'), clientRequestId: c.get('clientRequestId'), userId, user: userName, route, startedAt: Date.now() };
    const tap = new UsageTap(
      origin,
      (record) => {
        if (record && tap.attemptLog) traceRequest(c.env, record, tap.attemptLog, (flush) => waitUntil(c, flush));
        const release = ticket ? leaseBookOf(c.env.USER_METER).settle(ticket, spentBy(record)) : null;
        if (!record && !release) return settled();
        void settle(c.env, userId, { record, release: release ?? undefined }).finally(settled);
      },
      tracesOn(c.env),
    );
    waitUntil(c, finished);
    c.set('tap', tap);
    c.set('admit', async (cost) => {
      if (admitted) return;
      admitted = true;
      tap.requestBytes = cost.bodyBytes;
      if (limits.budgeted && limits.lease.monthlyBudgetUsd !== undefined) {
        const unpriced = cost.models.find((model) => !isPriced(model));
        if (unpriced !== undefined || cost.models.length === 0) {
          throw new GatewayError(
            403,
            `user "${userName}" has a monthly budget and model "${unpriced?.id ?? 'unknown'}" has no price in the vault`,
            'model_unpriced',
          );
        }
      }
      if (!needsLease(limits, cost)) return;
      const result = await admit(c, limits, cost);
      headers = result.headers;
      ticket = result.ticket;
      for (const [name, value] of Object.entries(headers)) answerHeader(c, name, value);
    });
    try {
      await next();
    } catch (err) {
      const status = err instanceof GatewayError ? err.status : 500;
      if (!admitted && limits.lease.rpm > 0) {
        admitted = true;
        try {
          ({ ticket, headers } = await admit(c, limits, undefined));
        } catch (refusal) {
          tap.done(status, null);
          throw refusal;
        }
      }
      tap.done(status, err instanceof GatewayError ? (err.code ?? null) : 'internal_error');
      if (err instanceof GatewayError) throw new GatewayError(err.status, err.message, err.code, { ...headers, ...err.headers });
      throw err;
    }
    if (!admitted && limits.lease.rpm > 0) {
      admitted = true;
      ({ ticket, headers } = await admit(c, limits, undefined));
      for (const [name, value] of Object.entries(headers)) answerHeader(c, name, value);
    }
    // Hono has turned an error thrown by the handler into the answer already: its code is in c.error.
    const error = c.error instanceof GatewayError ? (c.error.code ?? null) : null;
    tap.done(c.res.status, error);
  };

/** A request admitted on a route that reaches no provider: it has no record; its lease may still need telling. */
function settleTicket(c: Context<Env>, ticket: Ticket, record: UsageRecord | undefined) {
  const release = leaseBookOf(c.env.USER_METER).settle(ticket, spentBy(record));
  if (release) waitUntil(c, settle(c.env, c.get('userId'), { release }));
}

async function withHeaders(c: Context<Env>, headers: Record<string, string>, next: () => Promise<void>) {
  for (const [name, value] of Object.entries(headers)) answerHeader(c, name, value);
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
