// The gateway's hot path, stage by stage, inside workerd (bench/hot-path.ts drives it): each request
// runs one stage `n` times in a loop, so its wall time over n is the stage's cost per request.
// Upstream calls are answered by a stub in place of `fetch`, so only the gateway's own work is timed.
import app from '../src/app';
import { readyDb } from '../src/d1/schema';
import { StreamCounter } from '../src/usage/extract';
import type { Bindings } from '../src/env';
import { downstreamHeaders, upstreamHeaders } from '../src/forward/headers';
import { headroomOf } from '../src/forward/headroom';
import { reportSignals } from '../src/forward/key-health';
import { keyRotation } from '../src/forward/keys';
import { findOperation, parseJson } from '../src/forward/operation';
import { send } from '../src/forward/send';
import { buildTarget } from '../src/forward/target';
import { leaseBookOf } from '../src/limits/lease-book';
import { consultLimiter } from '../src/limits/verdicts';
import { INSERT_RECORDS_SQL, recordsParam, type UsageRecord } from '../src/usage/record';
import { userMeter } from '../src/usage/writer';
import { resolveProvider } from '../src/providers/lookup';
import { findUser } from '../src/users/store';
import { loadConfig } from '../src/vault/store';
import { timeOrderedId } from '../src/request-ids';
import { BENCH_PROVIDER_KEY, BENCH_USER_KEY, JSON_BODY } from './config';

// Every Durable Object class the gateway's bindings name (as src/index.ts exports them).
export { KeyHealth } from '../src/limits/key-health';
export { RateLimiter } from '../src/limits/rate-limiter';
export { UserMeter } from '../src/limits/user-meter';
export { UsersDirectory } from '../src/users/directory';
export { VaultWriter } from '../src/vault/writer';

const PATH = '/openai/v1/chat/completions';
const CLIENT_IP = '203.0.113.9';
const CHAT_OPERATION = findOperation({ protocol: 'openai', endpoint: 'https://api.openai.com/v1', keys: [], models: [] }, 'POST', 'chat/completions');
const BODY = new TextEncoder().encode(JSON_BODY).buffer;
const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'bench-small',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the bench upstream.' }, finish_reason: 'stop' }],
});
const upstreamAnswer = () =>
  new Response(COMPLETION, {
    headers: { 'content-type': 'application/json', 'content-length': String(COMPLETION.length), 'x-request-id': 'req_1', date: new Date().toUTCString() },
  });
// As a client's request arrives over HTTP: with its content-length (without one, body-limit must
// count the body through a reader).
const clientHeaders = () =>
  new Headers({
    authorization: `Bearer ${BENCH_USER_KEY}`,
    'content-type': 'application/json',
    'content-length': String(BODY.byteLength),
    'cf-connecting-ip': CLIENT_IP,
    'user-agent': 'bench',
    accept: '*/*',
  });
const clientRequest = () => new Request(`http://gateway${PATH}`, { method: 'POST', headers: clientHeaders(), body: JSON_BODY });

/** A user object binding that answers at once: the whole request without the Durable Object round trips. */
const instantMeter = {
  idFromName: () => ({}),
  get: () => ({
    lease: async ({ rpm, want, reserve }: { rpm: number; want: number; reserve?: { usd: number; tokens: number } }) => ({
      rate: { allowed: true, limit: rpm, remaining: rpm - want, resetMs: 60_000 },
      lease: {
        id: 'l',
        requests: want,
        usd: (reserve?.usd ?? 0) * want,
        tokens: (reserve?.tokens ?? 0) * want,
        expiresAt: Date.now() + 60_000,
        single: want === 1,
      },
    }),
    settle: async () => {},
  }),
} as unknown as Bindings['USER_METER'];

/** A batch of records as one isolate's settle carries them at load (each a new request id, as the gateway makes them). */
const SETTLE_BATCH = 200;
const settleBatch = (): UsageRecord[] =>
  Array.from({ length: SETTLE_BATCH }, () => ({
    id: timeOrderedId(),
    client_request_id: null,
    time: new Date().toISOString(),
    user_id: 'hot-path',
    user: 'bench',
    route: 'proxy',
    operation: 'chat/completions',
    provider: 'openai',
    model: 'bench-small',
    status: 200,
    stream: false,
    attempts: 1,
    input_tokens: 12,
    output_tokens: 7,
    cached_input_tokens: 0,
    usage_source: 'provider',
    cost_usd: 0.0000123,
    latency_ms: 3,
    first_byte_ms: 2,
    cache: 'none',
    error_code: null,
    saved_usd: null,
  }));

/** A read of the bench's 100 MB stream (bench/upstream.ts): ~1 KiB events, as the relay meters them. */
const LARGE_STREAM_EVENT = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'bench-small', choices: [{ index: 0, delta: { content: 'x'.repeat(960) }, finish_reason: null }] })}\n\n`;
const LARGE_STREAM_CHUNK = new TextEncoder().encode(LARGE_STREAM_EVENT.repeat(Math.floor((256 * 1024) / LARGE_STREAM_EVENT.length)));

/** An answer's headers, as the stub upstream gives them (made in a handler: `new Date()` is not allowed at load). */
let answerHeaders: Headers | undefined;

// One env object for every request, as workerd passes (settings are parsed once per env object).
let instantEnv: Bindings | undefined;

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;

async function wholeRequest(env: Bindings) {
  const res = await app.fetch(clientRequest(), env, ctx);
  if (res.status !== 200) throw new Error(`whole request answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

type Stage = (env: Bindings) => unknown;

export const STAGES: Record<string, Stage> = {
  'empty loop': () => undefined,
  'route match (remembered per method and path)': () => app.router.match('POST', PATH),
  'auth lookup (users map; a key seen before is not hashed again)': (env) => findUser(env, BENCH_USER_KEY),
  'failed-login count (Durable Object RPC, take; only after a failure)': (env) =>
    consultLimiter(env, `auth-ip:${CLIENT_IP}`, (l) => l.take(1_000_000_000, 300_000)),
  'lease: rate limit + budget slices (Durable Object RPC, once per lease)': (env) =>
    userMeter(env, 'hot-path').lease({ rpm: 1_000_000_000, monthlyBudgetUsd: 1e9, dailyTokens: 1e15, reserve: { usd: 0, tokens: 0 }, want: 1, leaseMs: 5_000 }),
  [`settle: a batch of ${SETTLE_BATCH} records (Durable Object RPC, SQLite)`]: (env) =>
    userMeter(env, 'hot-path').settle({ id: crypto.randomUUID(), records: settleBatch(), releases: [], ends: [] }),
  // Local D1 runs in the gateway's workerd process, so under load its work is on the gateway's thread.
  [`D1: ${SETTLE_BATCH} records in one insert (a Durable Object's flush)`]: async (env) => {
    const db = await readyDb(env.DB);
    await db.prepare(INSERT_RECORDS_SQL).bind(recordsParam(settleBatch())).run();
  },
  'stream metering: 256 KiB of ~1 KiB SSE events (text length, usage)': () => new StreamCounter('openai').events(LARGE_STREAM_CHUNK),
  'admit against a held lease (no call)': (env) =>
    leaseBookOf(env.USER_METER).admit(
      'hot-path',
      { rpm: 1_000_000_000, monthlyBudgetUsd: 1e9, dailyTokens: 1e15 },
      { usd: 0, tokens: 0 },
      (request) => userMeter(env, 'hot-path').lease({ ...request, leaseMs: 60_000 }),
      Date.now() + 10_000,
    ),
  'vault access (decrypted config, cached)': (env) => loadConfig(env),
  'body: parse and validate the JSON': () => parseJson(BODY, CHAT_OPERATION.schema!),
  'key choice': async (env) => keyRotation('openai', resolveProvider(await loadConfig(env), 'openai')!.provider.keys),
  'routing signals: an answer observed (rate-limit headers, outcome, time to first byte)': (env) => {
    const headroom = headroomOf((answerHeaders ??= upstreamAnswer().headers));
    reportSignals(env, 'openai', BENCH_PROVIDER_KEY, { outcome: 'ok', ttfbMs: 3, headroom });
  },
  'target and headers, both ways': async (env) => {
    const { provider } = resolveProvider(await loadConfig(env), 'openai')!;
    const target = buildTarget({
      providerId: 'openai',
      provider,
      operation: 'chat/completions',
      search: '',
      key: provider.keys[0]!.key,
      incoming: clientHeaders(),
      env,
    });
    upstreamHeaders(clientHeaders(), target.headers);
    downstreamHeaders(upstreamAnswer().headers);
  },
  'forward: timers, abort, fetch (stub), answer': async (env) => {
    const { provider } = resolveProvider(await loadConfig(env), 'openai')!;
    const res = await send({
      providerId: 'openai',
      provider,
      operation: 'chat/completions',
      search: '',
      method: 'POST',
      incoming: clientHeaders(),
      body: BODY,
      env,
    });
    await res.arrayBuffer();
  },
  'whole request, user object answering at once': (env) => wholeRequest((instantEnv ??= { ...env, USER_METER: instantMeter })),
  'whole request': (env) => wholeRequest(env),
};

export default {
  async fetch(request: Request, env: Bindings): Promise<Response> {
    const url = new URL(request.url);
    const stage = STAGES[url.searchParams.get('stage') ?? ''];
    if (!stage) return Response.json(Object.keys(STAGES));
    const n = Number(url.searchParams.get('n') ?? 1);
    const realFetch = globalThis.fetch;
    globalThis.fetch = async () => upstreamAnswer();
    try {
      for (let i = 0; i < n; i++) await stage(env);
    } finally {
      globalThis.fetch = realFetch;
    }
    return new Response('ok');
  },
};
