import * as z from 'zod';
import { bytesToBase64Url } from '../base64';
import { digestText } from '../vault/crypto';
import { UserFields } from '../vault/schema';

// What the operator API may change on a user, derived from the users schema. Applied to the raw JSON
// of the `users` map, so fields this project does not know (and the key of a hand-written user) stay.

/** Names the operator API creates: they appear in URLs, logs and usage records. */
export const UserName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'a name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');

/** The limits an operator sets; `null` in a patch removes a limit. */
const limits = UserFields.pick({
  rpm: true,
  providers: true,
  models: true,
  disabled: true,
  expiresAt: true,
  monthlyBudgetUsd: true,
  dailyTokens: true,
}).shape;

export const NewUser = z.strictObject({ name: UserName, ...limits });

/** An optional limit that a patch may also remove with `null`. */
const removable = <T extends z.ZodType>(schema: z.ZodOptional<T>) => schema.unwrap().nullable().optional();

export const UserPatch = z.strictObject({
  rpm: removable(limits.rpm),
  providers: removable(limits.providers),
  models: removable(limits.models),
  disabled: removable(limits.disabled),
  expiresAt: removable(limits.expiresAt),
  monthlyBudgetUsd: removable(limits.monthlyBudgetUsd),
  dailyTokens: removable(limits.dailyTokens),
});

export type NewUser = z.infer<typeof NewUser>;
export type UserPatch = z.infer<typeof UserPatch>;

/** A new key's stored form: only its digest and last characters ever leave the worker that made it. */
export interface StoredKey {
  keySha256: string;
  keyHint: string;
}

/**
 * One change to the users map, as the users Durable Object applies it. `assign-ids` changes nothing
 * but the ids of users that have none (every change does that too).
 */
export type UserChange =
  | { kind: 'create'; user: NewUser; key: StoredKey }
  | { kind: 'patch'; name: string; patch: UserPatch }
  | { kind: 'rotate'; name: string; key: StoredKey }
  | { kind: 'delete'; name: string }
  | { kind: 'assign-ids' };

/** `removedId`: the id of the user a delete removed (their stored state is purged by id). */
export type ChangeOutcome = { ok: true; removedId?: string } | { ok: false; status: 404 | 409 | 500; message: string; code: string };

type RawUsers = Record<string, Record<string, unknown>>;

/** A new user id: 128 random bits. Never derived from the name, so a name created again gets another. */
export const newUserId = () => `u_${bytesToBase64Url(crypto.getRandomValues(new Uint8Array(16)))}`;

/**
 * Give every user without an id one: `idFor(name)` decides which (the directory gives a user who
 * existed before ids their name once, so their earlier records stay theirs). True when any was given.
 */
export function assignIds(users: RawUsers, idFor: (name: string) => string): boolean {
  let assigned = false;
  for (const [name, user] of Object.entries(users)) {
    if (typeof user.id === 'string' && user.id.length > 0) continue;
    user.id = idFor(name);
    assigned = true;
  }
  return assigned;
}

/** Apply a change to the parsed `users` JSON in place (the directory gives missing ids first: assignIds). */
export function applyChange(users: RawUsers, change: UserChange): ChangeOutcome {
  if (change.kind === 'assign-ids') return { ok: true };
  const name = change.kind === 'create' ? change.user.name : change.name;
  const exists = Object.hasOwn(users, name);
  if (change.kind === 'create') {
    if (exists) return { ok: false, status: 409, message: `user "${name}" already exists`, code: 'user_exists' };
    const { name: _, ...fields } = change.user;
    users[name] = { id: newUserId(), ...change.key, ...fields };
    return { ok: true };
  }
  if (!exists) return { ok: false, status: 404, message: `no user "${name}"`, code: 'user_not_found' };
  const user = users[name]!;
  switch (change.kind) {
    case 'patch':
      for (const [field, value] of Object.entries(change.patch)) {
        if (value === undefined) continue;
        if (value === null) delete user[field];
        else user[field] = value;
      }
      break;
    case 'rotate':
      // A hand-written user loses its plaintext key: from now on only the digest is stored.
      delete user.key;
      Object.assign(user, change.key);
      break;
    case 'delete':
      delete users[name];
      return { ok: true, removedId: typeof user.id === 'string' ? user.id : undefined };
  }
  return { ok: true };
}

/** A new user key: 256 random bits, base64url, with a recognisable prefix. Returned once, never stored. */
export function generateKey(): { key: string; stored: Promise<StoredKey> } {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const key = `sy-${bytesToBase64Url(bytes)}`;
  return { key, stored: digestText(key).then((keySha256) => ({ keySha256, keyHint: key.slice(-4) })) };
}
