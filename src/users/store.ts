import type { Bindings } from '../env';
import { GatewayError } from '../errors';
import { digestText } from '../vault/crypto';
import { describeIssues, type User, Users } from '../vault/schema';

/** How long an isolate trusts its copy of the `users` map before reading KV again. */
export const USERS_CACHE_MS = 10_000;

export interface UserEntry {
  name: string;
  user: User;
}

/** Users by the hex SHA-256 of their key: lookups never compare raw keys. */
type UsersByDigest = Map<string, UserEntry>;

let snapshot: Promise<UsersByDigest> | undefined;
let snapshotLoadedAt = 0;

async function readUsers(env: Bindings): Promise<UsersByDigest> {
  const raw = (await env.KV_AI_PROXY.get('users')) ?? env.DEV_USERS_JSON ?? null;
  const byKeyDigest = new Map<string, UserEntry>();
  if (raw !== null) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new GatewayError(500, 'the users map in KV is not valid JSON', 'users_invalid');
    }
    const parsed = Users.safeParse(json);
    if (!parsed.success) {
      throw new GatewayError(500, `the users map in KV is invalid: ${describeIssues(parsed.error)}`, 'users_invalid');
    }
    for (const [name, user] of Object.entries(parsed.data)) byKeyDigest.set(await digestText(user.key), { name, user });
  }
  return byKeyDigest;
}

async function currentUsers(env: Bindings): Promise<UsersByDigest> {
  if (!snapshot || Date.now() - snapshotLoadedAt > USERS_CACHE_MS) {
    snapshotLoadedAt = Date.now();
    snapshot = readUsers(env);
    snapshot.catch(() => {
      snapshot = undefined;
    });
  }
  return snapshot;
}

/**
 * The user whose key is `token`, or undefined. Only SHA-256 digests are looked up, so the time a
 * lookup takes depends on the digest, which an attacker cannot steer towards a stored key byte by byte.
 */
export async function findUser(env: Bindings, token: string): Promise<UserEntry | undefined> {
  return (await currentUsers(env)).get(await digestText(token));
}

/** Forget the cached users map (tests, and after a write from this isolate). */
export function clearUsersCache() {
  snapshot = undefined;
}
