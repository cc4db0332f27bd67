import type { Bindings } from '../env';
import { settingsOf } from '../limits/settings';
import { fromStore } from '../store-call';
import { readyDb } from './schema';

// D1 as a request uses it: the schema made current, then the queries, within STORE_TIMEOUT_MS. A D1
// that fails or hangs is a 503 naming what it holds for that route (src/store-call.ts).

export const USAGE_DB = 'the usage database (D1)';
export const RESPONSES_DB = 'the stored responses database (D1)';

/** `work` on the request's D1, as `fromStore` runs it. */
export const queryD1 = <T>(env: Bindings, store: string, work: (db: D1Database) => Promise<T>): Promise<T> =>
  fromStore(env, store, settingsOf(env).STORE_TIMEOUT_MS, async () => work(await readyDb(env.DB)));
