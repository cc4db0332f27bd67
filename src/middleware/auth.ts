import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { timingSafeEqual } from 'hono/utils/buffer';
import type { Env } from '../env';
import { findUser } from '../users/store';
import { refuseKnownLockout, settleAuthentication } from './auth-guard';
import { errorResponse, GatewayError } from '../errors';
import type { UsageRoute } from '../usage/record';
import { meteredUserLimits, userRateLimit } from './rate-limit';

const unauthorized = (message: string) => (c: Context<Env>) => errorResponse(401, message, undefined, {}, c.get('errorDialect'));

const authMessages = {
  noAuthenticationHeader: {
    message: unauthorized(
      'missing credential: send "Authorization: Bearer <your gateway key>", "x-api-key: <your gateway key>" or "x-goog-api-key: <your gateway key>"',
    ),
  },
  invalidAuthenticationHeader: { message: unauthorized('malformed credential: send "Authorization: Bearer <your gateway key>"') },
  invalidToken: { message: unauthorized('unknown gateway key') },
};

/** A user key against the `users` map; sets `userId`, `userName` and `user`. Disabled and expired users get a 403. */
const verifyUser = async (token: string, c: Context<Env>) => {
  refuseKnownLockout(c);
  const entry = await findUser(c.env, token);
  await settleAuthentication(c, entry !== undefined);
  if (!entry) return false;
  if (entry.user.disabled) throw new GatewayError(403, `user "${entry.name}" is disabled`, 'user_disabled');
  if (entry.user.expiresAt && Date.parse(entry.user.expiresAt) <= Date.now()) {
    throw new GatewayError(403, `user "${entry.name}" expired at ${entry.user.expiresAt}`, 'user_expired');
  }
  // A hand-written user gets an id on first sight; while the users directory cannot give it, nothing of theirs can be keyed.
  if (entry.user.id === undefined)
    throw new GatewayError(503, 'the users directory is unavailable; retry shortly', 'users_unavailable', { 'Retry-After': '5' });
  c.set('userId', entry.user.id);
  c.set('userName', entry.name);
  c.set('user', entry.user);
  return true;
};

const userBearerAuth: MiddlewareHandler<Env> = bearerAuth({ ...authMessages, verifyToken: verifyUser });

const userApiKeyAuth: MiddlewareHandler<Env> = bearerAuth({ ...authMessages, headerName: 'x-api-key', prefix: '', verifyToken: verifyUser });

const userGoogleApiKeyAuth: MiddlewareHandler<Env> = bearerAuth({ ...authMessages, headerName: 'x-goog-api-key', prefix: '', verifyToken: verifyUser });

/** Google's `?key=`: bearerAuth reads headers only. Target URLs never carry it (forward/target.ts keeps `key` here). */
const userQueryKeyAuth: MiddlewareHandler<Env> = async (c, next) => {
  if (!(await verifyUser(c.req.query('key') ?? '', c))) throw new HTTPException(401, { res: authMessages.invalidToken.message(c) });
  await next();
};

/**
 * The user key as a bearer token or, when no Authorization header is sent, as the key header of the
 * client's own SDK on every route: `x-api-key` (the Anthropic SDKs, Claude Code), then
 * `x-goog-api-key` or `?key=` (the Google GenAI SDK, Gemini CLI). None of them is forwarded
 * (forward/headers.ts, forward/target.ts).
 */
const userKeyAuth: MiddlewareHandler<Env> = (c, next) => {
  if (c.req.header('authorization') !== undefined) return userBearerAuth(c, next);
  if (c.req.header('x-api-key') !== undefined) return userApiKeyAuth(c, next);
  if (c.req.header('x-goog-api-key') !== undefined) return userGoogleApiKeyAuth(c, next);
  if (c.req.query('key') !== undefined) return userQueryKeyAuth(c, next);
  return userBearerAuth(c, next);
};

/**
 * `first`, with `second` as its next step. hono/combine's `every` does this for any number of steps
 * and for steps that answer `true` or `false`, by building a composer and a closure per step on every
 * request (~2 % of the isolate's CPU under load, bench/profile.ts); these steps always call next or throw.
 */
const inSequence =
  (first: MiddlewareHandler<Env>, second: MiddlewareHandler<Env>): MiddlewareHandler<Env> =>
  (c, next) =>
    first(c, async () => {
      await second(c, next);
    });

/** Every user route that reaches no provider: the user key, then the user's rate limit, so no user route can skip the limiter. */
export const userAuth: MiddlewareHandler<Env> = inSequence(userKeyAuth, userRateLimit);

/** User routes that reach a provider: the user key, then the user's rate limit and budget, metered (usage records). */
export const meteredUserAuth = (route: UsageRoute): MiddlewareHandler<Env> => inSequence(userKeyAuth, meteredUserLimits(route));

/**
 * The operator's bearer: `ADMIN_TOKEN` when that secret is set, else the vault passphrase
 * `AI_JSON_CRYPTOKEN`. Guards the operator API (/admin/*) and /healthz details, which never show a
 * provider key. A user key never passes.
 */
export const operatorAuth: MiddlewareHandler<Env> = bearerAuth({
  ...authMessages,
  invalidToken: { message: unauthorized('wrong operator token') },
  verifyToken: async (token, c: Context<Env>) => {
    const expected = c.env.ADMIN_TOKEN || c.env.AI_JSON_CRYPTOKEN;
    if (!expected) throw new GatewayError(503, 'neither ADMIN_TOKEN nor AI_JSON_CRYPTOKEN is set on this deployment', 'operator_token_unset');
    refuseKnownLockout(c);
    const valid = await timingSafeEqual(expected, token);
    await settleAuthentication(c, valid);
    return valid;
  },
});

/**
 * The vault passphrase `AI_JSON_CRYPTOKEN`, and only it: the vault routes hand out or replace every
 * provider key. ADMIN_TOKEN gets a 403 that says which token to send (it is a valid credential, so it
 * is not counted as a failure). A user key never passes.
 */
export const vaultAuth: MiddlewareHandler<Env> = bearerAuth({
  ...authMessages,
  invalidToken: { message: unauthorized('wrong vault token') },
  verifyToken: async (token, c: Context<Env>) => {
    const expected = c.env.AI_JSON_CRYPTOKEN;
    if (!expected) throw new GatewayError(503, 'AI_JSON_CRYPTOKEN is not set on this deployment', 'vault_token_unset');
    refuseKnownLockout(c);
    const valid = await timingSafeEqual(expected, token);
    const adminToken = c.env.ADMIN_TOKEN;
    const admin = !valid && !!adminToken && (await timingSafeEqual(adminToken, token));
    await settleAuthentication(c, valid || admin);
    if (admin) throw new GatewayError(403, 'ADMIN_TOKEN does not open the vault: send the vault passphrase (AI_JSON_CRYPTOKEN)', 'vault_token_required');
    return valid;
  },
});
