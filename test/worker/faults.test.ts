import { createExecutionContext, env as testEnv, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { clearKeyHealthCache } from '../../src/forward/key-health';
import type { HealthReport } from '../../src/health/report';
import { makeEnv, postJson, userHeaders } from './helpers/env';
import { mockUpstream } from './helpers/fetch';
import { faultyUpstream, hang } from './helpers/upstreams';
import { GATEWAY_COMPAT, sealVault, testConfig, VAULT_TOKEN } from './helpers/vault';
import { jsonResponse, openaiChatCompletion, openaiChatStream, sseResponse } from './helpers/wire';

// README, "When a store fails": each row of the table, with its fault injected. A fault is an error,
// an overloaded Durable Object, or silence (a call that never settles, given up after STORE_TIMEOUT_MS,
// set short here); "slow" answers within that time. The user's answer is what each row promises, and
// what the row says is kept is looked for where it is kept.

afterEach(() => {
  vi.restoreAllMocks();
  clearKeyHealthCache();
});

type Fault = 'error' | 'overloaded' | 'hang';

const OVERLOADED = 'Durable Object is overloaded. Too many requests queued.';

/** What a call to a failing store gives: a rejection, or a promise that never settles. */
const failing = (fault: Fault): Promise<never> =>
  fault === 'hang' ? new Promise<never>(() => {}) : Promise.reject(new Error(fault === 'overloaded' ? OVERLOADED : 'simulated outage'));

/** An object whose every method fails (`then` left out, so that awaiting the object itself is harmless). */
const failingObject = (fault: Fault, extra: Record<string, unknown> = {}): object =>
  new Proxy(extra, { get: (target, prop) => (prop in target ? target[prop as string] : prop === 'then' ? undefined : () => failing(fault)) });

/** A Durable Object namespace whose objects all fail. */
const brokenObjects = <K extends 'USER_METER' | 'RATE_LIMITER' | 'USERS_DIRECTORY' | 'KEY_HEALTH' | 'VAULT_WRITER'>(base: Bindings, binding: K, fault: Fault) =>
  ({ idFromName: (name: string) => base[binding].idFromName(name), get: () => failingObject(fault) }) as unknown as Bindings[K];

/** A D1 database whose every query fails (its statements are prepared and bound, then fail). */
function brokenD1(fault: Fault): D1Database {
  const statement: object = failingObject(fault, { bind: () => statement });
  return failingObject(fault, { prepare: () => statement }) as D1Database;
}

const brokenKv = (fault: Fault) => failingObject(fault) as KVNamespace;

/** The gateway's own timeout for a store, short: a silent store is given up on at once. */
const SHORT = { STORE_TIMEOUT_MS: '50' };

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;

const meterOf = (userId: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${userId}`));

/** A request, its body, and whatever it left to do after the answer (settling usage, storing in the cache). */
async function call(env: Bindings, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await app.request(path, init, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text, json: () => JSON.parse(text) as Record<string, any> };
}

const chatBody = (content = 'hello') => ({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content }] });
const chat = (env: Bindings, key?: string, headers: Record<string, string> = {}, content?: string) =>
  call(env, '/groq/v1/chat/completions', postJson(chatBody(content), userHeaders(key, headers)));
const answerChats = () => mockUpstream((c) => jsonResponse(openaiChatCompletion(c.json().model)));

const operator = { authorization: `Bearer ${VAULT_TOKEN}` };

/** A user of their own (a meter no other test touches), and an env that knows them. */
async function ownUser(prefix: string, limits: Record<string, unknown> = {}) {
  const name = unique(prefix);
  const key = `key-${name}`;
  const env = await makeEnv({ users: { [name]: { key, ...limits } } });
  return { name, key, env };
}

/** The store's refusal: 503, `store_unavailable`, the store named, never `internal_error`. */
function expectUnavailable(res: Response, text: string, store: string) {
  expect(res.status).toBe(503);
  expect(JSON.parse(text)).toEqual({ error: { message: `${store} is unavailable; retry shortly`, type: 'api_error', code: 'store_unavailable' } });
  expect(res.headers.get('retry-after')).toBe('5');
}

const rowsOf = async (ids: string[]) =>
  (
    await testEnv.DB.prepare('SELECT id FROM usage_records WHERE id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(ids)).all<{ id: string }>()
  ).results
    .map((row) => row.id)
    .sort();

/** Ten seconds on: the isolate's copies of the vault text and the users map are due to be read again. */
function copiesDue() {
  const real = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => real() + 11_000);
}

describe('KV', () => {
  it('KV error, the isolate holds the vault and the users: answered from its copies', async () => {
    const { key, env } = await ownUser('kvcopy');
    answerChats();
    expect((await chat(env, key)).res.status).toBe(200);
    copiesDue();
    const log = vi.spyOn(console, 'error');
    const down = { ...env, KV_AI_PROXY: brokenKv('error'), USERS_DIRECTORY: brokenObjects(env, 'USERS_DIRECTORY', 'error') };
    const { res } = await chat(down, key);
    expect(res.status).toBe(200);
    const lines = log.mock.calls.map((args) => String(args[0]));
    for (const event of ['vault_read_failed', 'users_read_failed']) expect(lines.some((line) => line.includes(`"event":"${event}"`))).toBe(true);
  });

  it.each(['error', 'hang'] as const)('KV %s, no copy in the isolate: 503 naming the vault store', async (fault) => {
    const base = await makeEnv({ vars: SHORT });
    answerChats();
    const { res, text } = await chat({ ...base, KV_AI_PROXY: brokenKv(fault) });
    expectUnavailable(res, text, 'the vault store (KV)');
  });

  it('KV and the users directory down, no copy in the isolate: 503 naming the users map', async () => {
    const base = await makeEnv();
    const { res, text } = await chat({ ...base, KV_AI_PROXY: brokenKv('error'), USERS_DIRECTORY: brokenObjects(base, 'USERS_DIRECTORY', 'error') });
    expectUnavailable(res, text, 'the users map (KV)');
  });
});

describe('D1: usage records', () => {
  it('D1 error: proxied requests answered; records wait in the user object and reach D1 once it is back, each once', async () => {
    const { name, key, env } = await ownUser('flush');
    answerChats();
    const batch = vi.spyOn(testEnv.DB, 'batch').mockRejectedValue(new Error('D1_ERROR: simulated outage'));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { res } = await chat(env, key);
      expect(res.status).toBe(200);
      ids.push(res.headers.get('x-request-id')!);
    }
    const meter = meterOf(name);
    expect(await runDurableObjectAlarm(meter)).toBe(true);
    expect(batch).toHaveBeenCalled();
    expect((await meter.pendingRecords()).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await rowsOf(ids)).toEqual([]);

    batch.mockRestore();
    // The retry the failed flush scheduled (30 s on), run now.
    await runDurableObjectAlarm(meter);
    expect(await meter.pendingRecords()).toEqual([]);
    expect(await rowsOf(ids)).toEqual([...ids].sort());
  });

  it('D1 error after the write landed: the records stay pending, are written again, and are counted once', async () => {
    const { name, key, env } = await ownUser('twice');
    answerChats();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await chat(env, key)).res.headers.get('x-request-id')!);
    const real = testEnv.DB.batch.bind(testEnv.DB);
    vi.spyOn(testEnv.DB, 'batch').mockImplementationOnce(async (statements) => {
      await real(statements);
      throw new Error('D1_ERROR: connection lost after commit');
    });
    const meter = meterOf(name);
    await runDurableObjectAlarm(meter);
    expect(await meter.pendingRecords()).toHaveLength(2);
    expect(await rowsOf(ids)).toEqual([...ids].sort());
    // In D1 and pending at once: GET /v1/usage counts each request once.
    expect((await call(env, '/v1/usage', { headers: userHeaders(key) })).json().requests).toBe(2);
    await runDurableObjectAlarm(meter);
    expect(await meter.pendingRecords()).toEqual([]);
    expect(await rowsOf(ids)).toEqual([...ids].sort());
  });

  it.each(['error', 'hang'] as const)('D1 %s: GET /v1/usage is a 503 naming the usage database', async (fault) => {
    const { key, env } = await ownUser('usage');
    const { res, text } = await call({ ...env, ...SHORT, DB: brokenD1(fault) }, '/v1/usage', { headers: userHeaders(key) });
    expectUnavailable(res, text, 'the usage database (D1)');
  });

  it('D1 error: GET /v1/usage/requests/:id answers a pending record from the user object, a flushed one with a 503', async () => {
    const { name, key, env } = await ownUser('record');
    answerChats();
    const pending = (await chat(env, key)).res.headers.get('x-request-id')!;
    const down = { ...env, DB: brokenD1('error') };
    const found = await call(down, `/v1/usage/requests/${pending}`, { headers: userHeaders(key) });
    expect(found.res.status).toBe(200);
    expect(found.json().id).toBe(pending);
    await runDurableObjectAlarm(meterOf(name));
    const { res, text } = await call(down, `/v1/usage/requests/${pending}`, { headers: userHeaders(key) });
    expectUnavailable(res, text, 'the usage database (D1)');
  });

  it('D1 slow (within STORE_TIMEOUT_MS): GET /v1/usage answered as usual', async () => {
    const { key, env } = await ownUser('slow');
    const statements = Object.getPrototypeOf(testEnv.DB.prepare('SELECT 1')) as D1PreparedStatement;
    const all = statements.all;
    vi.spyOn(statements, 'all').mockImplementation(async function (this: D1PreparedStatement) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return all.call(this);
    });
    const { res } = await call(env, '/v1/usage', { headers: userHeaders(key) });
    expect(res.status).toBe(200);
  });

  it.each([
    ['/admin/usage', 'error'],
    ['/admin/requests', 'error'],
    ['/admin/requests', 'hang'],
  ] as const)('%s, D1 %s: a 503 naming the usage database', async (path, fault) => {
    const base = await makeEnv({ vars: SHORT });
    const { res, text } = await call({ ...base, DB: brokenD1(fault) }, path, { headers: operator });
    expectUnavailable(res, text, 'the usage database (D1)');
  });
});

describe('D1: stored responses', () => {
  const respond = (env: Bindings, body: Record<string, unknown>) =>
    call(env, '/v1/responses', postJson({ model: 'groq/llama-3.3-70b-versatile', input: 'Hello', ...body }));

  it.each(['error', 'hang'] as const)(
    'D1 %s on POST /v1/responses: the answer is returned, X-Switchyard-Stored: false; previous_response_id to it is a 404 later',
    async (fault) => {
      const base = await makeEnv({ vars: SHORT });
      answerChats();
      const first = await respond({ ...base, DB: brokenD1(fault) }, {});
      expect(first.res.status).toBe(200);
      expect(first.json()).toMatchObject({ object: 'response', status: 'completed' });
      expect(first.res.headers.get('x-switchyard-stored')).toBe('false');
      const next = await respond(base, { previous_response_id: first.json().id });
      expect(next.res.status).toBe(404);
      expect(next.json().error.code).toBe('previous_response_not_found');
    },
  );

  it('D1 up: the answer says X-Switchyard-Stored: true', async () => {
    const base = await makeEnv();
    answerChats();
    expect((await respond(base, {})).res.headers.get('x-switchyard-stored')).toBe('true');
  });

  it('D1 silent on a streamed POST /v1/responses: the stream still ends with response.completed', async () => {
    const base = await makeEnv({ vars: SHORT });
    mockUpstream((c) => sseResponse(openaiChatStream(c.json().model, ['Hel', 'lo'])));
    const { res, text } = await respond({ ...base, DB: brokenD1('hang') }, { stream: true });
    expect(res.status).toBe(200);
    expect(text).toContain('event: response.completed');
  });

  it('D1 error on POST /v1/responses with previous_response_id: 503 naming the store, nothing sent upstream', async () => {
    const base = await makeEnv();
    const { calls } = answerChats();
    const { res, text } = await respond({ ...base, DB: brokenD1('error') }, { previous_response_id: 'resp_any' });
    expectUnavailable(res, text, 'the stored responses database (D1)');
    expect(calls).toHaveLength(0);
  });

  it.each(['GET', 'DELETE'])('D1 error on %s /v1/responses/:id: 503 naming the store', async (method) => {
    const base = await makeEnv();
    const { res, text } = await call({ ...base, DB: brokenD1('error') }, '/v1/responses/resp_any', { method, headers: userHeaders() });
    expectUnavailable(res, text, 'the stored responses database (D1)');
  });
});

describe('Durable Objects', () => {
  it.each(['error', 'overloaded', 'hang'] as const)('USER_METER %s: a user without a budget is answered; the record goes straight to D1', async (fault) => {
    const { key, env } = await ownUser('meter', { rpm: 100 });
    answerChats();
    const { res } = await chat({ ...env, ...SHORT, USER_METER: brokenObjects(env, 'USER_METER', fault) }, key);
    expect(res.status).toBe(200);
    expect(await rowsOf([res.headers.get('x-request-id')!])).toHaveLength(1);
  });

  it.each(['error', 'overloaded', 'hang'] as const)('USER_METER %s: a user with a budget gets 503 budget_unavailable', async (fault) => {
    const { key, env } = await ownUser('budget', { dailyTokens: 1_000_000 });
    const { calls } = answerChats();
    const { res, json } = await chat({ ...env, ...SHORT, USER_METER: brokenObjects(env, 'USER_METER', fault) }, key);
    expect(res.status).toBe(503);
    expect(json().error.code).toBe('budget_unavailable');
    expect(calls).toHaveLength(0);
  });

  it.each(['error', 'hang'] as const)("USER_METER %s: GET /v1/usage is a 503 naming the user's meter", async (fault) => {
    const { key, env } = await ownUser('meterusage');
    const { res, text } = await call({ ...env, ...SHORT, USER_METER: brokenObjects(env, 'USER_METER', fault) }, '/v1/usage', { headers: userHeaders(key) });
    expectUnavailable(res, text, "the user's usage meter (Durable Object)");
  });

  it('RATE_LIMITER error: a valid key is answered; a wrong one gets 503 auth_guard_unavailable', async () => {
    const base = await makeEnv();
    answerChats();
    const env = { ...base, RATE_LIMITER: brokenObjects(base, 'RATE_LIMITER', 'error') };
    const address = { 'cf-connecting-ip': '198.51.100.77' };
    expect((await chat(env, undefined, address)).res.status).toBe(200);
    const wrong = await chat(env, 'sy-wrong-key-0000000000', address);
    expect(wrong.res.status).toBe(503);
    expect(wrong.json().error.code).toBe('auth_guard_unavailable');
  });

  it.each(['error', 'overloaded', 'hang'] as const)('USERS_DIRECTORY %s: users are read from KV, answered as usual', async (fault) => {
    const base = await makeEnv({ vars: SHORT });
    answerChats();
    const { res } = await chat({ ...base, USERS_DIRECTORY: brokenObjects(base, 'USERS_DIRECTORY', fault) });
    expect(res.status).toBe(200);
  });

  it.each(['error', 'hang'] as const)('KEY_HEALTH %s: answered, keys chosen by the isolate alone', async (fault) => {
    const base = await makeEnv({ vars: SHORT });
    answerChats();
    const { res } = await chat({ ...base, KEY_HEALTH: brokenObjects(base, 'KEY_HEALTH', fault) });
    expect(res.status).toBe(200);
  });

  it('VAULT_WRITER error: PUT /ai.json.enc is a 503 naming the writer; the vault served stays as it was', async () => {
    const base = await makeEnv();
    const before = await call(base, '/ai.json.enc', { headers: operator });
    const env = { ...base, VAULT_WRITER: brokenObjects(base, 'VAULT_WRITER', 'error') };
    const put = await call(env, '/ai.json.enc', { method: 'PUT', headers: operator, body: await sealVault({ ...testConfig(), version: 1 }, { fresh: true }) });
    expectUnavailable(put.res, put.text, 'the vault writer (Durable Object)');
    expect((await call(env, '/ai.json.enc', { headers: operator })).text).toBe(before.text);
  });
});

describe('Cache API', () => {
  const cached = (env: Bindings, content: string) => chat(env, undefined, { 'x-switchyard-cache-ttl': '60' }, content);
  const cache = () => (caches as unknown as { default: Cache }).default;

  it.each(['error', 'hang'] as const)('Cache API %s on lookup: answered by the provider (MISS)', async (fault) => {
    const env = await makeEnv({ vars: SHORT });
    const { calls } = answerChats();
    const match = vi.spyOn(cache(), 'match').mockImplementation(() => failing(fault));
    const { res } = await cached(env, unique('lookup'));
    expect(match).toHaveBeenCalled();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(calls).toHaveLength(1);
  });

  it.each(['error', 'hang'] as const)('Cache API %s on store: answered; not cached, so the next identical call goes upstream', async (fault) => {
    const env = await makeEnv({ vars: SHORT });
    const { calls } = answerChats();
    const put = vi.spyOn(cache(), 'put').mockImplementation(() => failing(fault));
    const content = unique('store');
    expect((await cached(env, content)).res.status).toBe(200);
    expect(put).toHaveBeenCalled();
    const again = await cached(env, content);
    expect(again.res.status).toBe(200);
    expect(again.res.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(calls).toHaveLength(2);
  });
});

describe('AI Gateway and the provider', () => {
  const ACCOUNT = '0123456789abcdef0123456789abcdef';

  async function viaGateway(keys: string[]) {
    const config = testConfig();
    config.providers.groq = { ...config.providers.groq, keys: keys.map((key) => ({ key })), gatewayEndpoint: GATEWAY_COMPAT };
    return makeEnv({ config, vars: { CLOUDFLARE_ACCOUNT_ID: ACCOUNT, CLOUDFLARE_AIG_TOKEN: 'aig-token', UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '100' } });
  }

  it('AI Gateway error (5xx): the next key is tried through it, and its answer returned', async () => {
    const env = await viaGateway([`gsk-aig-${unique('a')}`, `gsk-aig-${unique('b')}`]);
    const { calls } = mockUpstream((c, i) =>
      i === 0 ? jsonResponse({ error: { message: 'gateway error' } }, 502) : jsonResponse(openaiChatCompletion(c.json().model)),
    );
    const { res } = await chat(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(calls.every((c) => c.url.startsWith(`https://gateway.ai.cloudflare.com/v1/${ACCOUNT}/`))).toBe(true);
  });

  it('AI Gateway silent: 504 upstream_timeout in the error shape', async () => {
    const env = await viaGateway([`gsk-aig-${unique('c')}`]);
    faultyUpstream((c) => hang(c.signal));
    const { res, json } = await chat(env);
    expect(res.status).toBe(504);
    expect(json().error.code).toBe('upstream_timeout');
  });
});

describe('/healthz', () => {
  const report = async (env: Bindings) => {
    const { res, json } = await call(env, '/healthz', { headers: operator });
    return { status: res.status, body: json() as HealthReport };
  };
  const twoProviders = (dead: object) => ({
    version: 1,
    providers: {
      alive: { protocol: 'openai', endpoint: 'https://api.groq.com/openai/v1', keys: [{ key: 'k-alive' }], models: [{ id: 'm' }] },
      dead: { protocol: 'openai', endpoint: 'https://api.groq.com/openai/v1', keys: [dead], models: [{ id: 'm' }] },
    },
  });

  it('one provider without a usable key: 200 degraded, for anyone', async () => {
    const env = await makeEnv({ config: twoProviders({ key: 'k-dead', type: 'expired' }) });
    const res = await app.request('/healthz', {}, env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'degraded' });
  });

  it.each([
    ['D1 error', 'd1', { DB: brokenD1('error') }],
    ['D1 silent', 'd1', { DB: brokenD1('hang') }],
    ['KEY_HEALTH error', 'keyHealth', 'KEY_HEALTH'],
    ['USERS_DIRECTORY error', 'users', 'USERS_DIRECTORY'],
    ['RATE_LIMITER error', 'limiter', 'RATE_LIMITER'],
  ] as const)('%s: 200 degraded, the check named', async (_, check, fault) => {
    const base = await makeEnv({ vars: SHORT });
    const env = typeof fault === 'string' ? { ...base, [fault]: brokenObjects(base, fault, 'error') } : { ...base, ...fault };
    const { status, body } = await report(env);
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.checks[check].ok).toBe(false);
  });

  it('KV error, the vault in the isolate: 200 degraded, the KV check named', async () => {
    const env = await makeEnv();
    expect((await report(env)).body.status).toBe('ok');
    const { status, body } = await report({ ...env, KV_AI_PROXY: brokenKv('error') });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'degraded', checks: { vault: { ok: true }, kv: { ok: false } } });
  });

  it('Cache API error: 200 degraded, the cache check named', async () => {
    const env = await makeEnv();
    vi.spyOn((caches as unknown as { default: Cache }).default, 'match').mockRejectedValue(new Error('simulated outage'));
    const { status, body } = await report(env);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'degraded', checks: { cache: { ok: false, error: 'simulated outage' } } });
  });

  it('a vault that does not decrypt: 503 down', async () => {
    const env = await makeEnv({ vaultText: await sealVault(testConfig(), { token: 'another-token', fresh: true }) });
    const { status, body } = await report(env);
    expect(status).toBe(503);
    expect(body.status).toBe('down');
    expect(body.checks.vault.ok).toBe(false);
  });

  it('no provider with a usable key: 503 down', async () => {
    const env = await makeEnv({ config: { version: 1, providers: { dead: twoProviders({ key: 'k-dead', type: 'expired' }).providers.dead } } });
    const { status, body } = await report(env);
    expect(status).toBe(503);
    expect(body.status).toBe('down');
  });
});
