import type { Bindings } from '../env';
import { GatewayError } from '../errors';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';
import { storeUnavailable, withinMs } from '../store-call';
import { digestText } from '../vault/crypto';
import { describeIssues, type User, Users } from '../vault/schema';
import type { UserChange } from './changes';
import { USERS_DIRECTORY_NAME, USERS_KEY } from './directory';

/** How long an isolate trusts its copy of the `users` map before asking for it again. */
export const USERS_CACHE_MS = 10_000;

export interface UserEntry {
  name: string;
  user: User;
}

interface Snapshot {
  /** The map's text it was built from: the same text again is not parsed and hashed again. */
  text: string | null;
  /** Every user, in the map's order. */
  entries: UserEntry[];
  /** Users by the hex SHA-256 of their key: a presented key is never compared with stored ones. */
  byKeyDigest: Map<string, UserEntry>;
  /**
   * Keys presented and found by their digest, by value: a user's later requests skip the SHA-256. Only
   * real keys get in (at most one per user), so a guess is never found here: it is hashed as before.
   */
  byKey: Map<string, UserEntry>;
}

// A value, never a promise: a request that awaited another request's pending read would go on in
// that request's I/O context and fail ("Cannot perform I/O on behalf of a different request") once
// it had ended. After the 10 s each request that finds the copy old reads the map itself.
let snapshot: Snapshot | undefined;
let snapshotLoadedAt = 0;

const directory = (env: Bindings) => env.USERS_DIRECTORY.get(env.USERS_DIRECTORY.idFromName(USERS_DIRECTORY_NAME));

/** The map's text from the users Durable Object; straight from KV when the object cannot answer. */
async function readUsersText(env: Bindings): Promise<string | null> {
  const ms = settingsOf(env).STORE_TIMEOUT_MS;
  try {
    return await withinMs(directory(env).current(), ms);
  } catch (err) {
    logEvent(env, 'error', { event: 'users_directory_unavailable', reason: err instanceof Error ? err.message : String(err) });
    return withinMs(env.KV_AI_PROXY.get(USERS_KEY), ms);
  }
}

async function buildSnapshot(raw: string | null): Promise<Snapshot> {
  const entries: UserEntry[] = [];
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
    for (const [name, user] of Object.entries(parsed.data)) {
      const entry = { name, user };
      entries.push(entry);
      byKeyDigest.set(user.key !== undefined ? await digestText(user.key) : user.keySha256!, entry);
    }
  }
  return { text: raw, entries, byKeyDigest, byKey: new Map() };
}

function remember(loaded: Snapshot, at: number) {
  if (at < snapshotLoadedAt) return;
  snapshot = loaded;
  snapshotLoadedAt = at;
}

async function currentUsers(env: Bindings): Promise<Snapshot> {
  if (snapshot && Date.now() - snapshotLoadedAt <= USERS_CACHE_MS) return snapshot;
  const at = Date.now();
  let text: string | null;
  try {
    text = await readUsersText(env);
  } catch (err) {
    // Neither the directory nor KV answers: the isolate's copy serves on (asked again in 10 s).
    logEvent(env, 'error', { event: 'users_read_failed', reason: err instanceof Error ? err.message : String(err) });
    if (!snapshot) throw storeUnavailable('the users map (KV)');
    remember(snapshot, at);
    return snapshot;
  }
  const raw = text ?? env.DEV_USERS_JSON ?? null;
  if (snapshot && snapshot.text === raw && snapshot.entries.every((entry) => entry.user.id !== undefined)) {
    remember(snapshot, at);
    return snapshot;
  }
  let loaded = await buildSnapshot(raw);
  if (loaded.entries.some((entry) => entry.user.id === undefined)) loaded = (await giveIds(env)) ?? loaded;
  remember(loaded, at);
  return loaded;
}

/**
 * A user written by hand has no id until the directory gives one (once, persisted in the map). When
 * it cannot, the map is used as it is and such users are refused until it can (see verifyUser).
 */
async function giveIds(env: Bindings): Promise<Snapshot | undefined> {
  try {
    const outcome = await directory(env).change({ kind: 'assign-ids' }, env.DEV_USERS_JSON ?? null);
    return outcome.ok ? await buildSnapshot(outcome.text) : undefined;
  } catch (err) {
    logEvent(env, 'error', { event: 'user_ids_not_given', reason: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/**
 * The user whose key is `token`, or undefined. A key not seen before is looked up by its SHA-256
 * digest, so the time a lookup takes depends on the digest, which an attacker cannot steer towards a
 * stored key byte by byte.
 */
export async function findUser(env: Bindings, token: string): Promise<UserEntry | undefined> {
  const users = await currentUsers(env);
  const known = users.byKey.get(token);
  if (known) return known;
  const entry = users.byKeyDigest.get(await digestText(token));
  if (entry) users.byKey.set(token, entry);
  return entry;
}

/** Every user, as this isolate knows them. */
export async function listUsers(env: Bindings): Promise<UserEntry[]> {
  return (await currentUsers(env)).entries;
}

/**
 * Apply a change through the users Durable Object (the map's one writer). This isolate adopts the
 * resulting map at once, so a rotated key is refused here from the next request on.
 */
export async function changeUsers(env: Bindings, change: UserChange): Promise<{ entries: UserEntry[]; removedId?: string }> {
  let outcome;
  try {
    outcome = await directory(env).change(change, env.DEV_USERS_JSON ?? null);
  } catch (err) {
    throw new GatewayError(500, err instanceof Error ? err.message : 'the users map could not be changed', 'users_write_failed');
  }
  if (!outcome.ok) throw new GatewayError(outcome.status, outcome.message, outcome.code);
  const at = Date.now();
  const next = await buildSnapshot(outcome.text);
  remember(next, at);
  return { entries: next.entries, removedId: outcome.removedId };
}

/** Forget the cached users map (tests). */
export function clearUsersCache() {
  snapshot = undefined;
  snapshotLoadedAt = 0;
}
