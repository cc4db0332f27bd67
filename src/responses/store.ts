import { queryD1, RESPONSES_DB } from '../d1/query';
import type { Bindings } from '../env';
import { GatewayError } from '../errors';

// Stored responses (migrations/0004_responses.sql, 0006_user_ids.sql): per user id, 30 days. Each row is one turn; a
// conversation is the chain of previous_response_id links, read back by one recursive query.

export const RESPONSE_TTL_SECONDS = 30 * 24 * 60 * 60;

/** D1 refuses a row above 2 000 000 bytes; a turn larger than this is answered but not stored. */
export const MAX_STORED_BYTES = 1_900_000;

/** Links followed when continuing: a longer chain is refused rather than read without end. */
const MAX_CHAIN = 10_000;

type Item = Record<string, unknown>;

export interface StoredTurn {
  input: Item[];
  response: Record<string, unknown> & { id: string; output?: unknown };
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Store one turn. Expired rows go in the same batch (the expiry index keeps that cheap). Returns
 * false, storing nothing, when the turn is larger than a row may be.
 */
export async function storeTurn(env: Bindings, userId: string, previousId: string | null | undefined, turn: StoredTurn): Promise<boolean> {
  const input = JSON.stringify(turn.input);
  const response = JSON.stringify(turn.response);
  const bytes = new TextEncoder();
  if (bytes.encode(input).byteLength + bytes.encode(response).byteLength > MAX_STORED_BYTES) return false;
  const at = now();
  const createdAt = typeof turn.response.created_at === 'number' ? turn.response.created_at : at;
  await queryD1(env, RESPONSES_DB, (db) =>
    db.batch([
      db.prepare('DELETE FROM responses WHERE expires_at <= ?1').bind(at),
      db
        .prepare(
          'INSERT INTO responses (id, user_id, previous_response_id, created_at, expires_at, input, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING',
        )
        .bind(turn.response.id, userId, previousId ?? null, createdAt, at + RESPONSE_TTL_SECONDS, input, response),
    ]),
  );
  return true;
}

/** One of the user's stored responses, or undefined (another user's, expired or unknown). */
export async function readResponse(env: Bindings, userId: string, id: string): Promise<Record<string, unknown> | undefined> {
  const row = await queryD1(env, RESPONSES_DB, (db) =>
    db.prepare('SELECT response FROM responses WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3').bind(id, userId, now()).first<{ response: string }>(),
  );
  return row ? (JSON.parse(row.response) as Record<string, unknown>) : undefined;
}

/** Deletes one of the user's stored responses; false when there was none. */
export async function deleteResponse(env: Bindings, userId: string, id: string): Promise<boolean> {
  const result = await queryD1(env, RESPONSES_DB, (db) =>
    db.prepare('DELETE FROM responses WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3').bind(id, userId, now()).run(),
  );
  return result.meta.changes > 0;
}

const notFound = (id: string) => new GatewayError(404, `Previous response with id '${id}' not found.`, 'previous_response_not_found');

/**
 * The conversation a response ends: every turn's input items and output items, oldest first. 404
 * when the response is not the user's or any turn of it has expired.
 */
export async function readConversation(env: Bindings, userId: string, id: string): Promise<Item[]> {
  const { results } = await queryD1(env, RESPONSES_DB, (db) =>
    db
      .prepare(
        `WITH RECURSIVE chain (id, previous_response_id, input, response, depth) AS (
           SELECT id, previous_response_id, input, response, 0 FROM responses WHERE id = ?1 AND user_id = ?2 AND expires_at > ?3
           UNION ALL
           SELECT r.id, r.previous_response_id, r.input, r.response, chain.depth + 1
             FROM responses r JOIN chain ON r.id = chain.previous_response_id
            WHERE r.user_id = ?2 AND r.expires_at > ?3 AND chain.depth < ?4
         )
         SELECT previous_response_id, input, response FROM chain ORDER BY depth DESC`,
      )
      .bind(id, userId, now(), MAX_CHAIN)
      .all<{ previous_response_id: string | null; input: string; response: string }>(),
  );
  const oldest = results[0];
  if (!oldest) throw notFound(id);
  if (oldest.previous_response_id !== null) throw notFound(oldest.previous_response_id);
  return results.flatMap((row) => {
    const output = (JSON.parse(row.response) as { output?: unknown }).output;
    return [...(JSON.parse(row.input) as Item[]), ...(Array.isArray(output) ? (output as Item[]) : [])];
  });
}

/** Every stored response of a user (a deleted user's: unreachable already, since ids are never given again). */
export async function purgeUserResponses(env: Bindings, userId: string): Promise<void> {
  await queryD1(env, RESPONSES_DB, (db) => db.prepare('DELETE FROM responses WHERE user_id = ?1').bind(userId).run());
}
