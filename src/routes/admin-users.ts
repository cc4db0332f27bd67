import { Hono } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { operatorAuth } from '../middleware/auth';
import { validate } from '../middleware/validate';
import { logEvent } from '../log';
import { purgeUserResponses } from '../responses/store';
import { generateKey, NewUser, UserPatch } from '../users/changes';
import { changeUsers, listUsers, type UserEntry } from '../users/store';

// The operator's users API (README, "Operating the gateway"). Every change goes through the users
// Durable Object; answers never carry a stored key or its digest, only `keyHint`.

export const adminUserRoutes = new Hono<Env>();

adminUserRoutes.use('/admin/users', operatorAuth);
adminUserRoutes.use('/admin/users/*', operatorAuth);

/** A user as the operator API shows it: every limit, `null` where none is set. */
export function describeUser({ name, user }: UserEntry) {
  return {
    name,
    id: user.id ?? null,
    keyHint: user.keyHint ?? user.key?.slice(-4) ?? null,
    rpm: user.rpm ?? null,
    providers: user.providers ?? null,
    models: user.models ?? null,
    disabled: user.disabled ?? false,
    expiresAt: user.expiresAt ?? null,
    monthlyBudgetUsd: user.monthlyBudgetUsd ?? null,
    dailyTokens: user.dailyTokens ?? null,
  };
}

const named = (entries: UserEntry[], name: string) => {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new GatewayError(404, `no user "${name}"`, 'user_not_found');
  return describeUser(entry);
};

const noStore = { 'cache-control': 'no-store' };

adminUserRoutes.get('/admin/users', async (c) => c.json({ object: 'list', data: (await listUsers(c.env)).map(describeUser) }, 200, noStore));

adminUserRoutes.post('/admin/users', validate('json', NewUser), async (c) => {
  const user = c.req.valid('json');
  const { key, stored } = generateKey();
  const { entries } = await changeUsers(c.env, { kind: 'create', user, key: await stored });
  return c.json({ ...named(entries, user.name), key }, 201, noStore);
});

adminUserRoutes.patch('/admin/users/:name', validate('json', UserPatch), async (c) => {
  const name = c.req.param('name');
  const { entries } = await changeUsers(c.env, { kind: 'patch', name, patch: c.req.valid('json') });
  return c.json(named(entries, name), 200, noStore);
});

adminUserRoutes.post('/admin/users/:name/rotate', async (c) => {
  const name = c.req.param('name');
  const { key, stored } = generateKey();
  const { entries } = await changeUsers(c.env, { kind: 'rotate', name, key: await stored });
  return c.json({ ...named(entries, name), key }, 200, noStore);
});

adminUserRoutes.delete('/admin/users/:name', async (c) => {
  const { removedId } = await changeUsers(c.env, { kind: 'delete', name: c.req.param('name') });
  // Unreachable already (keyed by an id never given again); purged so a deleted user's turns are gone.
  if (removedId !== undefined) {
    await purgeUserResponses(c.env, removedId).catch((err: unknown) =>
      logEvent(c.env, 'error', { event: 'user_responses_not_purged', reason: err instanceof Error ? err.message : String(err) }),
    );
  }
  return c.body(null, 204);
});
