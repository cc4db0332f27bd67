// After the soak: the usage records the gateway wrote, read back through its own APIs, against the
// answers that owe one. D1 through the operator's request log (paged); an id missing there is looked up
// with its user's key, which also finds a record still pending in the user's Durable Object.
import type { Outcome } from './soak-mix';
import { OPERATOR_TOKEN, USERS } from './soak-rig';

interface StoredRecord {
  id: string;
  user: string;
  status: number;
  cache: string;
  error_code: string | null;
}

export interface RecordCheck {
  /** Answers that owe a record. */
  owed: number;
  /** Distinct owed ids with a record (in D1, or pending in the user's object). */
  written: number;
  inD1: number;
  pending: number;
  /** Owed answers with no record anywhere. */
  lost: Pick<Outcome, 'id' | 'kind' | 'status' | 'code' | 'aborted'>[];
  /** Ids listed more than once in D1. */
  duplicates: string[];
  /** Records of answers that owed none (refused before any provider). */
  unowed: string[];
  /** Records of requests whose answer never arrived (network error, timeout). */
  unanswered: number;
  /** Aborted streams whose record says the client left (client_closed_request); the others ended before the abort was seen. */
  abortedClientClosed: number;
  abortedOwed: number;
  /** Cache HIT answers, and records with cache = hit. */
  hitAnswers: number;
  hitRecords: number;
}

const PAGE = 200;
const LOOKUP_ROUNDS = 3;
const LOOKUP_PAUSE_MS = 5_000;

async function readAll(gatewayUrl: string): Promise<StoredRecord[]> {
  const records: StoredRecord[] = [];
  for (let cursor: string | null = null; ;) {
    const query: string = `limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(`${gatewayUrl}/admin/requests?${query}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    if (!res.ok) throw new Error(`GET /admin/requests answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const page = (await res.json()) as { data: StoredRecord[]; next: string | null };
    records.push(...page.data);
    if (!page.next) return records;
    cursor = page.next;
  }
}

/** Whether the user can see a record of that id (pending in the object or in D1). */
async function lookUp(gatewayUrl: string, outcome: Outcome): Promise<boolean> {
  const res = await fetch(`${gatewayUrl}/v1/usage/requests/${outcome.id}`, { headers: { authorization: `Bearer ${USERS[outcome.user].key}` } });
  await res.arrayBuffer();
  if (res.status !== 200 && res.status !== 404) throw new Error(`GET /v1/usage/requests/${outcome.id} answered ${res.status}`);
  return res.status === 200;
}

export async function checkRecords(gatewayUrl: string, outcomes: Outcome[]): Promise<RecordCheck> {
  const stored = await readAll(gatewayUrl);
  const counts = new Map<string, number>();
  for (const record of stored) counts.set(record.id, (counts.get(record.id) ?? 0) + 1);
  const byId = new Map(stored.map((record) => [record.id, record]));

  const owed = outcomes.filter((o) => o.owesRecord && o.id !== undefined);
  const answeredIds = new Set(outcomes.flatMap((o) => (o.id === undefined ? [] : [o.id])));
  let missing = owed.filter((o) => !byId.has(o.id!));
  const inD1 = owed.length - missing.length;
  // Not in D1 yet: pending in the object, or (after a few more flush periods) lost.
  for (let round = 0; round < LOOKUP_ROUNDS && missing.length > 0; round++) {
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, LOOKUP_PAUSE_MS));
    const still: Outcome[] = [];
    for (const outcome of missing) if (!(await lookUp(gatewayUrl, outcome))) still.push(outcome);
    missing = still;
  }
  const aborted = owed.filter((o) => o.aborted);
  return {
    owed: owed.length,
    written: owed.length - missing.length,
    inD1,
    pending: owed.length - missing.length - inD1,
    lost: missing.map(({ id, kind, status, code, aborted }) => ({ id, kind, status, code, aborted })),
    duplicates: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unowed: outcomes.filter((o) => o.id !== undefined && !o.owesRecord && byId.has(o.id)).map((o) => o.id!),
    unanswered: stored.filter((record) => !answeredIds.has(record.id)).length,
    abortedClientClosed: aborted.filter((o) => byId.get(o.id!)?.error_code === 'client_closed_request').length,
    abortedOwed: aborted.length,
    hitAnswers: outcomes.filter((o) => o.cache === 'HIT').length,
    hitRecords: stored.filter((record) => record.cache === 'hit').length,
  };
}
