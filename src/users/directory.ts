import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../env';
import { describeIssues, Users } from '../vault/schema';
import { applyChange, assignIds, type ChangeOutcome, newUserId, type UserChange } from './changes';

// The one writer of the KV `users` map (one object, named USERS_DIRECTORY_NAME). KV is
// last-write-wins: two workers that each read, change and write the map lose one change. Here every
// change runs inside blockConcurrencyWhile, so changes are applied one after the other, each on the
// result of the one before.
//
// KV is eventually consistent (a read may be up to a minute old), so the object also keeps the text
// it wrote last with a revision, and writes that revision as the KV value's metadata. A KV value with
// an older revision is a stale read: the object's own copy wins. A value without metadata was written
// by hand (`wrangler kv key put`): it is the newest, and the next change applies on top of it.
//
// Workers read the map through `current()` (once per isolate per USERS_CACHE_MS), so a change made
// through the operator API is seen everywhere within that time, whatever KV's propagation delay.

export const USERS_DIRECTORY_NAME = 'users';
export const USERS_KEY = 'users';

/**
 * Set once ids were first given. That first time (the upgrade that brought ids, or a new deployment's
 * first users) each user without an id gets their name: records, meters and stored responses of a user
 * who existed before ids were keyed by that name, and stay theirs. From then on every id is new and
 * random, so a name deleted and created again, through the API or by hand, starts empty.
 */
const LEGACY_IDS_GIVEN = 'legacyIdsGiven';

interface Copy {
  revision: number;
  text: string;
}

export type DirectoryOutcome = ChangeOutcome & { text: string | null };

export class UsersDirectory extends DurableObject<Bindings> {
  /** The `users` JSON text now: KV's, unless KV still serves an older revision than this object wrote. */
  async current(): Promise<string | null> {
    const [{ value, metadata }, copy] = await Promise.all([
      this.env.KV_AI_PROXY.getWithMetadata<{ revision?: number }>(USERS_KEY),
      this.ctx.storage.get<Copy>('copy'),
    ]);
    const revision = metadata?.revision;
    if (copy && typeof revision === 'number' && revision < copy.revision) return copy.text;
    return value;
  }

  /**
   * Apply one change on top of the current map and write the result. `fallback` is the map the worker
   * uses while KV holds none (DEV_USERS_JSON in local development), so its users are kept.
   */
  async change(change: UserChange, fallback: string | null): Promise<DirectoryOutcome> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const text = (await this.current()) ?? fallback;
      const users = parseUsers(text);
      // Refused, not thrown: an exception inside blockConcurrencyWhile resets the object.
      if (typeof users === 'string') return { ok: false, status: 500, message: users, code: 'users_invalid', text };
      const legacyGiven = (await this.ctx.storage.get<boolean>(LEGACY_IDS_GIVEN)) === true;
      const assigned = assignIds(users, legacyGiven ? newUserId : (name) => name);
      const outcome = applyChange(users, change);
      if (!outcome.ok) return { ...outcome, text };
      // Two isolates that both saw a user without an id: the second finds it given and writes nothing.
      if (change.kind === 'assign-ids' && !assigned) return { ...outcome, text };
      const next = JSON.stringify(users, null, 2);
      const revision = ((await this.ctx.storage.get<Copy>('copy'))?.revision ?? 0) + 1;
      await this.env.KV_AI_PROXY.put(USERS_KEY, next, { metadata: { revision } });
      await this.ctx.storage.put<Copy>('copy', { revision, text: next });
      if (!legacyGiven) await this.ctx.storage.put(LEGACY_IDS_GIVEN, true);
      return { ...outcome, text: next };
    });
  }
}

/**
 * The raw JSON of a users map, checked against the schema so a change never builds on a broken map;
 * else what is wrong with it.
 */
function parseUsers(text: string | null): Record<string, Record<string, unknown>> | string {
  if (text === null) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'the users map in KV is not valid JSON; fix it by hand before changing users';
  }
  const parsed = Users.safeParse(json);
  if (!parsed.success) return `the users map in KV is invalid (${describeIssues(parsed.error)}); fix it by hand before changing users`;
  return json as Record<string, Record<string, unknown>>;
}
