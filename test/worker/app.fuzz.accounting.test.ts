import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, userHeaders } from './helpers/env';
import { mockUpstream, type UpstreamCall } from './helpers/fetch';
import { configureFuzz, runs, timeout } from './helpers/fuzz';
import { pricedConfig } from './helpers/prices';
import { VAULT_TOKEN } from './helpers/vault';
import { jsonResponse } from './helpers/wire';

// Properties over what makes a usage record and whose it is (issue 23): any X-Request-Id a client
// sends, users deleted and created again under one name, and budgets under parallel requests that
// continue stored conversations. Seeded and sized like every fuzz file (helpers/fuzz.ts).

configureFuzz();

afterEach(() => vi.restoreAllMocks());

let serial = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${serial++}`;
const meterOf = (userId: string) => testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${userId}`));

async function call(env: Bindings, path: string, init: RequestInit) {
  const ctx = createExecutionContext();
  const res = await app.request(path, init, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

/** Characters of every message's text content in an upstream chat call: 1 token per character, the dearest a provider could count. */
function contentChars(call: UpstreamCall): number {
  const messages = (call.json() as { messages: { content: unknown }[] }).messages;
  const text = (content: unknown): number =>
    typeof content === 'string'
      ? content.length
      : Array.isArray(content)
        ? content.reduce((n: number, part: { text?: string }) => n + (part.text?.length ?? 0), 0)
        : 0;
  return messages.reduce((n, message) => n + text(message.content), 0);
}

function chatAnswer(call: UpstreamCall) {
  const json = call.json() as { model: string; max_tokens?: number; max_completion_tokens?: number };
  const completion = json.max_completion_tokens ?? json.max_tokens ?? 16;
  const prompt = contentChars(call);
  return jsonResponse({
    id: 'chatcmpl-f',
    object: 'chat.completion',
    created: 1,
    model: json.model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });
}

const chatBody = JSON.stringify({ model: 'llama-3.3-70b-versatile', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });

/** Header values a client may send: printable ASCII of any length, a few reused on purpose. */
const clientRequestId = fc.oneof(
  fc.constantFrom('dup', 'dup-2', 'req_shared', '', ' ', 'a'.repeat(128), 'a'.repeat(129)),
  fc.stringMatching(/^[\x20-\x7e]{0,300}$/),
);

describe('fuzz: request ids', () => {
  it(
    'any X-Request-Id, reused by one user or across users: one record per answer under its own id, every settle counted',
    async () => {
      const env = await makeEnv({ config: pricedConfig(), users: { a: { key: 'key-fuzz-a' }, b: { key: 'key-fuzz-b' } } });
      mockUpstream(chatAnswer);
      const cases = { runs: 0, kept: 0 };
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.option(clientRequestId)), { minLength: 1, maxLength: 6 }), async (sends) => {
          cases.runs++;
          const before = { a: (await meterOf('a').budget()).usedTokensToday, b: (await meterOf('b').budget()).usedTokensToday };
          const ids: [user: string, id: string][] = [];
          for (const [user, id] of sends) {
            const headers = userHeaders(`key-fuzz-${user}`, id === null ? {} : { 'x-request-id': id });
            const { res } = await call(env, '/groq/v1/chat/completions', { method: 'POST', headers, body: chatBody });
            expect(res.status).toBe(200);
            const gatewayId = res.headers.get('x-request-id')!;
            expect(gatewayId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
            ids.push([user, gatewayId]);
            const echoed = res.headers.get('x-client-request-id');
            if (echoed !== null) {
              cases.kept++;
              // Header values arrive trimmed of surrounding spaces.
              expect(echoed).toBe(id?.trim());
            }
          }
          expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);
          for (const user of ['a', 'b'] as const) {
            const mine = sends.filter(([u]) => u === user).length;
            // 2 prompt tokens ("hi") and 8 completion tokens per request, each counted.
            expect((await meterOf(user).budget()).usedTokensToday - before[user]).toBe(10 * mine);
          }
          // One record per answer, pending in its user's object or already flushed to D1 (an alarm, 2 s
          // after a settle). Pending is read first: a flush writes D1 before it forgets the pending one.
          for (const [user, id] of ids) {
            const pending = (await meterOf(user).pendingRecords(id)).length;
            const flushed = (await testEnv.DB.prepare('SELECT COUNT(*) AS n FROM usage_records WHERE id = ?').bind(id).first<{ n: number }>())!.n;
            expect(pending, id).toBeLessThanOrEqual(1);
            expect(pending + flushed, id).toBeGreaterThanOrEqual(1);
          }
        }),
        { numRuns: runs(40) },
      );
      expect(cases.kept).toBeGreaterThan(0);
    },
    timeout(40, 120_000),
  );
});

describe('fuzz: users created again', () => {
  const operator = { authorization: `Bearer ${VAULT_TOKEN}`, 'content-type': 'application/json' };
  const admin = (env: Bindings, method: string, path: string, body?: unknown) =>
    app.request(path, { method, headers: operator, body: body === undefined ? undefined : JSON.stringify(body) }, env);

  it(
    'any sequence of lives under one name: each life sees only its own responses, cached answers and usage',
    async () => {
      const env = await makeEnv({ config: pricedConfig(), users: {} });
      mockUpstream(chatAnswer);
      const action = fc.constantFrom('chat', 'cached', 'store');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(action, { maxLength: 4 }), { minLength: 2, maxLength: 4 }), async (lives) => {
          const name = unique('life');
          const earlier: { responses: string[]; ids: string[] } = { responses: [], ids: [] };
          for (const actions of lives) {
            const created = await (await admin(env, 'POST', '/admin/users', { name })).json<{ key: string; id: string }>();
            expect(earlier.ids).not.toContain(created.id);
            for (const id of earlier.responses) {
              expect((await call(env, `/v1/responses/${id}`, { headers: userHeaders(created.key) })).res.status).toBe(404);
            }
            let cachedSeen = false;
            for (const kind of actions) {
              if (kind === 'store') {
                const { res, text } = await call(env, '/v1/responses', {
                  method: 'POST',
                  headers: userHeaders(created.key),
                  body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', input: 'remember this', max_output_tokens: 8 }),
                });
                expect(res.status).toBe(200);
                earlier.responses.push((JSON.parse(text) as { id: string }).id);
              } else {
                const extra: Record<string, string> = kind === 'cached' ? { 'x-switchyard-cache-ttl': '600' } : {};
                const { res } = await call(env, '/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(created.key, extra), body: chatBody });
                expect(res.status).toBe(200);
                if (kind === 'cached') {
                  // The first cached call of a life is a MISS: nothing of an earlier life under this name answers it.
                  expect(res.headers.get('x-switchyard-cache')).toBe(cachedSeen ? 'HIT' : 'MISS');
                  cachedSeen = true;
                }
              }
            }
            const usage = JSON.parse((await call(env, '/v1/usage', { headers: userHeaders(created.key) })).text) as { requests: number };
            expect(usage.requests).toBe(actions.length);
            earlier.ids.push(created.id);
            expect((await admin(env, 'DELETE', `/admin/users/${name}`)).status).toBe(204);
          }
        }),
        // Two to four new users a case, each a new meter object (helpers/fuzz.ts).
        { numRuns: runs(15, 100) },
      );
    },
    timeout(15, 120_000, 100),
  );
});

describe('fuzz: budgets with stored conversations', () => {
  it(
    'parallel inline and stored-history requests: the daily tokens are overshot by at most one request',
    async () => {
      mockUpstream(chatAnswer);
      const request = fc.record({ continues: fc.boolean(), inputChars: fc.integer({ min: 1, max: 3000 }), maxOutput: fc.integer({ min: 1, max: 64 }) });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1000, max: 8000 }),
          fc.integer({ min: 200, max: 6000 }),
          fc.array(request, { minLength: 2, maxLength: 8 }),
          async (dailyTokens, storedChars, requests) => {
            const name = unique('mix');
            const key = `key-${name}`;
            const env = await makeEnv({ config: pricedConfig(), users: { [name]: { key, dailyTokens } } });
            const id = `resp_${name}`;
            const now = Math.floor(Date.now() / 1000);
            const response = {
              id,
              object: 'response',
              status: 'completed',
              output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok' }] }],
            };
            await testEnv.DB.prepare(
              'INSERT INTO responses (id, user_id, previous_response_id, created_at, expires_at, input, response) VALUES (?, ?, NULL, ?, ?, ?, ?)',
            )
              .bind(id, name, now, now + 3600, JSON.stringify([{ role: 'user', content: 'h'.repeat(storedChars) }]), JSON.stringify(response))
              .run();
            const answers = await Promise.all(
              requests.map(({ continues, inputChars, maxOutput }) =>
                call(env, '/v1/responses', {
                  method: 'POST',
                  headers: userHeaders(key),
                  body: JSON.stringify({
                    model: 'groq/llama-3.3-70b-versatile',
                    input: 'i'.repeat(inputChars),
                    max_output_tokens: maxOutput,
                    store: false,
                    ...(continues ? { previous_response_id: id } : {}),
                  }),
                }),
              ),
            );
            const costs = answers.flatMap(({ res, text }) => {
              expect([200, 429]).toContain(res.status);
              if (res.status !== 200) return [];
              const usage = (JSON.parse(text) as { usage: { input_tokens: number; output_tokens: number } }).usage;
              return [usage.input_tokens + usage.output_tokens];
            });
            const used = (await meterOf(name).budget()).usedTokensToday;
            expect(used).toBe(costs.reduce((a, b) => a + b, 0));
            expect(used).toBeLessThanOrEqual(dailyTokens + Math.max(0, ...costs));
          },
        ),
        // A new user a case (helpers/fuzz.ts).
        { numRuns: runs(40, 150) },
      );
    },
    timeout(40, 120_000, 150),
  );
});
