import { createExecutionContext, env as testEnv, runDurableObjectAlarm, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, userHeaders } from './helpers/env';
import { mockUpstream, type UpstreamCall } from './helpers/fetch';
import { pricedConfig } from './helpers/prices';
import { VAULT_TOKEN } from './helpers/vault';
import { jsonResponse } from './helpers/wire';

// Issue 23's findings on accounting, each reproduced as it was found: ids the client chose, stored
// conversations the budget did not see, and a user created again under a deleted user's name.

afterEach(() => vi.restoreAllMocks());

type Json = Record<string, any>;

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;

const meterOf = (userId: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${userId}`));

/** A chat answer with these counts (the provider's own usage). */
const chatAnswer = (call: UpstreamCall, prompt: number, completion: number) =>
  jsonResponse({
    id: 'chatcmpl-a',
    object: 'chat.completion',
    created: 1,
    model: call.json().model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });

async function call(env: Bindings, path: string, init: RequestInit) {
  const ctx = createExecutionContext();
  const res = await app.request(path, init, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

const chat = (env: Bindings, key: string, extra: Record<string, string> = {}) =>
  call(env, '/groq/v1/chat/completions', {
    method: 'POST',
    headers: userHeaders(key, extra),
    body: JSON.stringify({ model: 'llama-3.3-70b-versatile', max_tokens: 50, messages: [{ role: 'user', content: 'x'.repeat(300) }] }),
  });

describe('finding: a client-chosen X-Request-Id skipped budgets and usage', () => {
  it('six requests with one X-Request-Id are six records, and the daily tokens refuse them once used', async () => {
    const name = unique('dup');
    const key = `key-${name}`;
    const env = await makeEnv({ config: pricedConfig(), users: { [name]: { key, dailyTokens: 400 } } });
    mockUpstream((c) => chatAnswer(c, 200, 50));
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await chat(env, key, { 'x-request-id': 'dup-2' }));
    const ok = answers.filter(({ res }) => res.status === 200);
    // 250 tokens each: the second passes with 250 of 400 used (one request's overshoot), the rest are refused.
    expect(ok).toHaveLength(2);
    expect(answers.slice(2).map(({ res }) => res.status)).toEqual([429, 429, 429, 429]);
    expect((await meterOf(name).budget()).usedTokensToday).toBe(500);
    const ids = answers.map(({ res }) => res.headers.get('x-request-id'));
    expect(new Set(ids).size).toBe(6);
    expect(ids).not.toContain('dup-2');
    // The gateway's ids are UUIDv7, in the order the requests came (src/request-ids.ts).
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const times = ids.map((id) => Number.parseInt(id!.slice(0, 8) + id!.slice(9, 13), 16));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const { res } of answers) expect(res.headers.get('x-client-request-id')).toBe('dup-2');
    const pending = await meterOf(name).pendingRecords();
    // A record per request that reached the provider, each under its own id; refusals reached none.
    expect(pending.map((record) => [record.id, record.client_request_id])).toEqual(ok.map(({ res }) => [res.headers.get('x-request-id'), 'dup-2']));
  });

  it("reusing another user's request id keeps both users' records", async () => {
    const [alice, bob] = [unique('alice'), unique('bob')];
    const env = await makeEnv({ config: pricedConfig(), users: { [alice]: { key: `key-${alice}` }, [bob]: { key: `key-${bob}` } } });
    mockUpstream((c) => chatAnswer(c, 10, 5));
    const shared = unique('shared');
    const first = await chat(env, `key-${alice}`, { 'x-request-id': shared });
    const second = await chat(env, `key-${bob}`, { 'x-request-id': shared });
    expect([first.res.status, second.res.status]).toEqual([200, 200]);
    await runDurableObjectAlarm(meterOf(alice));
    await runDurableObjectAlarm(meterOf(bob));
    const { results } = await testEnv.DB.prepare('SELECT id, user_id, client_request_id FROM usage_records WHERE client_request_id = ? ORDER BY user_id')
      .bind(shared)
      .all<Json>();
    expect(results.map((row) => row.user_id).sort()).toEqual([alice, bob].sort());
    expect(results.map((row) => row.id).sort()).toEqual([first.res.headers.get('x-request-id'), second.res.headers.get('x-request-id')].sort());
  });
});

describe('finding: previous_response_id carried history the budget never saw', () => {
  it('five parallel continuations of a stored ~4 000-token conversation pass a 5 000-token budget at most twice', async () => {
    const name = unique('hist');
    const key = `key-${name}`;
    const env = await makeEnv({ config: pricedConfig(), users: { [name]: { key, dailyTokens: 5000 } } });
    // The stored conversation: ~4 000 bytes, which the provider counts as ~3 950 tokens.
    const id = `resp_${name}`;
    const input = [{ role: 'user', content: 'y'.repeat(3950) }];
    const response = {
      id,
      object: 'response',
      status: 'completed',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] }],
    };
    const now = Math.floor(Date.now() / 1000);
    await testEnv.DB.prepare(
      'INSERT INTO responses (id, user_id, previous_response_id, created_at, expires_at, input, response) VALUES (?, ?, NULL, ?, ?, ?, ?)',
    )
      .bind(id, name, now, now + 3600, JSON.stringify(input), JSON.stringify(response))
      .run();
    const { calls } = mockUpstream((c) => chatAnswer(c, 3960, 16));
    const body = JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', previous_response_id: id, input: 'go on', max_output_tokens: 16, store: false });
    expect(body.length).toBeLessThan(150);
    const answers = await Promise.all(Array.from({ length: 5 }, () => call(env, '/v1/responses', { method: 'POST', headers: userHeaders(key), body })));
    const ok = answers.filter(({ res }) => res.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(2);
    expect(calls).toHaveLength(ok);
    expect(answers.filter(({ res }) => res.status === 429)).toHaveLength(5 - ok);
    const used = (await meterOf(name).budget()).usedTokensToday;
    // Overshoot: at most one request's tokens (3 976) beyond the budget.
    expect(used).toBe(ok * 3976);
    expect(used).toBeLessThanOrEqual(5000 + 3976);
  });
});

describe('finding: a user created again under a deleted name inherited their data', () => {
  const operator = { authorization: `Bearer ${VAULT_TOKEN}`, 'content-type': 'application/json' };
  const admin = (env: Bindings, method: string, path: string, body?: unknown) =>
    app.request(path, { method, headers: operator, body: body === undefined ? undefined : JSON.stringify(body) }, env);

  it('delete bob, create bob: the new key sees none of the old stored responses, cached answers, usage or budget', async () => {
    const env = await makeEnv({ config: pricedConfig(), users: {} });
    mockUpstream((c) => (c.url.endsWith('/chat/completions') ? chatAnswer(c, 40, 10) : new Response('unexpected', { status: 500 })));
    const name = unique('bob');
    const first = await (await admin(env, 'POST', '/admin/users', { name, dailyTokens: 100_000 })).json<{ key: string; id: string }>();
    const stored = await call(env, '/v1/responses', {
      method: 'POST',
      headers: userHeaders(first.key),
      body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', input: 'my secret plan' }),
    });
    expect(stored.res.status).toBe(200);
    const responseId = (JSON.parse(stored.text) as { id: string }).id;
    const cached = (key: string) => chat(env, key, { 'x-switchyard-cache-ttl': '600' });
    expect((await cached(first.key)).res.headers.get('x-switchyard-cache')).toBe('MISS');
    expect((await cached(first.key)).res.headers.get('x-switchyard-cache')).toBe('HIT');
    const before = await call(env, '/v1/usage', { headers: userHeaders(first.key) });
    expect(JSON.parse(before.text)).toMatchObject({ requests: 3, budget: { usedTokensToday: 100 } });

    expect((await admin(env, 'DELETE', `/admin/users/${name}`)).status).toBe(204);
    const again = await (await admin(env, 'POST', '/admin/users', { name, dailyTokens: 100_000 })).json<{ key: string; id: string }>();
    expect(again.id).not.toBe(first.id);

    expect((await call(env, `/v1/responses/${responseId}`, { headers: userHeaders(again.key) })).res.status).toBe(404);
    const continued = await call(env, '/v1/responses', {
      method: 'POST',
      headers: userHeaders(again.key),
      body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', previous_response_id: responseId, input: 'and then?' }),
    });
    expect(continued.res.status).toBe(404);
    expect((await cached(again.key)).res.headers.get('x-switchyard-cache')).toBe('MISS');
    const after = await call(env, '/v1/usage', { headers: userHeaders(again.key) });
    // Only the new user's own MISS above.
    expect(JSON.parse(after.text)).toMatchObject({ requests: 1, budget: { usedTokensToday: 50 } });
    // The deleted user's stored turns are purged.
    expect(await testEnv.DB.prepare('SELECT COUNT(*) AS n FROM responses WHERE user_id = ?').bind(first.id).first('n')).toBe(0);
  });

  it('a hand-written map gets ids on first sight, persisted; a name removed and written again by hand gets a new one', async () => {
    // The directory gives names as ids the first time only (an upgrade); that time is past once a user was created.
    await admin(await makeEnv({ users: {} }), 'POST', '/admin/users', { name: unique('first') });
    const [carl, dora] = [unique('carl'), unique('dora')];
    const env = await makeEnv({ users: { [carl]: { key: `key-${carl}` } }, rawUsers: true });
    mockUpstream(() => new Response('unexpected', { status: 500 }));
    expect((await call(env, '/v1/usage', { headers: userHeaders(`key-${carl}`) })).res.status).toBe(200);
    const firstSeen = JSON.parse((await env.KV_AI_PROXY.get('users'))!) as Record<string, { id?: string }>;
    const carlId = firstSeen[carl]!.id!;
    expect(carlId).toMatch(/^u_[A-Za-z0-9_-]{22}$/);
    // Written again by hand without carl, then with carl (no id) and dora: carl's id is new.
    const rewritten = await makeEnv({ users: { [dora]: { key: `key-${dora}` } }, rawUsers: true });
    expect((await call(rewritten, '/v1/usage', { headers: userHeaders(`key-${dora}`) })).res.status).toBe(200);
    const third = await makeEnv({ users: { [carl]: { key: `key-${carl}` } }, rawUsers: true });
    expect((await call(third, '/v1/usage', { headers: userHeaders(`key-${carl}`) })).res.status).toBe(200);
    const ids = JSON.parse((await third.KV_AI_PROXY.get('users'))!) as Record<string, { id?: string }>;
    expect(ids[carl]!.id).toMatch(/^u_/);
    expect(ids[carl]!.id).not.toBe(carlId);
  });

  it('a user without an id is refused with a 503 while the users directory cannot give one (never keyed by name)', async () => {
    const name = unique('noid');
    const base = await makeEnv({ users: { [name]: { key: `key-${name}` } }, rawUsers: true });
    const broken = {
      idFromName: (n: string) => base.USERS_DIRECTORY.idFromName(n),
      get: () => ({
        current: () => Promise.reject(new Error('directory down')),
        change: () => Promise.reject(new Error('directory down')),
      }),
    };
    const env = { ...base, USERS_DIRECTORY: broken as unknown as Bindings['USERS_DIRECTORY'] };
    const { res, text } = await call(env, '/v1/usage', { headers: userHeaders(`key-${name}`) });
    expect(res.status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'users_unavailable' } });
  });
});
