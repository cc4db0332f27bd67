import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, USER_KEY, userHeaders } from './helpers/env';
import type { UpstreamCall } from './helpers/fetch';
import { configureFuzz, floor, runs, timeout } from './helpers/fuzz';
import { parseSse } from './helpers/streams';
import { keysOf, testConfig } from './helpers/vault';
import { fixtureAnswer, forgetKeyRests, mockFixtures } from './unified/answers';

// Properties of the Responses API (POST /v1/responses, GET and DELETE /v1/responses/:id) over any
// body and any id. Body fields are drawn with a label (taken, refused with a 400 naming it, refused
// otherwise, or either), and stored responses are tracked by a model of who created what: an id is
// found only by the user who stored it, until it is deleted. Never a 5xx; errors in OpenAI's shape.

configureFuzz();

const OTHER_KEY = 'sy-user-key-other-9876543210';
const SECRETS = [...keysOf(testConfig()), USER_KEY, OTHER_KEY];
let env: Bindings;

beforeAll(async () => {
  env = await makeEnv({ users: { tester: { key: USER_KEY }, other: { key: OTHER_KEY } } });
});
afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

/**
 * OpenAI answers /responses itself (a passthrough); every other provider from the fixtures. Ids are
 * unique in the file and of one length, so that no near miss of one (a prefix) is another case's id.
 */
let served = 0;
function nativeOrFixture(call: UpstreamCall) {
  if (!call.url.endsWith('/responses')) return fixtureAnswer(call);
  const id = `resp_fz${String(served++).padStart(8, '0')}`;
  const response = {
    id,
    object: 'response',
    created_at: 1741476542,
    status: 'completed',
    model: 'gpt-4o-mini',
    output: [{ type: 'message', id: `msg_${id}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] }],
    usage: { input_tokens: 3, output_tokens: 1, total_tokens: 4 },
  };
  if (!call.json().stream) return Response.json(response);
  const events = [
    { type: 'response.created', response: { ...response, status: 'in_progress', output: [] } },
    { type: 'response.completed', response },
  ];
  return new Response(events.map((e, i) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`).join(''), {
    headers: { 'content-type': 'text/event-stream' },
  });
}
beforeEach(() => void mockFixtures(nativeOrFixture));

const MODELS = [
  'groq/llama-3.3-70b-versatile',
  'anthropic/claude-sonnet-4-5',
  'gemini/gemini-2.0-flash',
  'openai/gpt-4o-mini',
  'gpt-4o-mini',
  'mistral/mistral-small-latest',
];

/** ok: taken; bad: a 400 naming the field; refused: some 4xx; either: taken or refused, by provider. */
type Label = 'ok' | 'bad' | 'refused' | 'either';
type Field = [name: string, value: unknown, label: Label];
/** A required field left out. */
const MISSING = Symbol('missing');
/** A field's values the API takes, and those it does not (or may not). */
const field = (name: string, { ok, ...others }: { ok: fc.Arbitrary<unknown> } & Partial<Record<Exclude<Label, 'ok'>, fc.Arbitrary<unknown>>>) => ({
  ok: ok.map((v): Field => [name, v, 'ok']),
  notOk: fc.oneof(...Object.entries(others).map(([l, arbitrary]) => arbitrary.map((v): Field => [name, v, l as Label]))),
});
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  // Large, well within the 25 MiB body limit and a stored row's size.
  { weight: 1, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 4096 })).map(([s, n]) => s.repeat(n)) },
);
const message = fc.record({ role: fc.constantFrom('user', 'system', 'developer', 'assistant'), content: text });
const typedMessage = text.map((t) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text: t }] }));
const MODEL = field('model', {
  ok: fc.constantFrom(...MODELS),
  bad: fc.constantFrom(42, null, '', [], {}, MISSING),
  refused: fc.constantFrom('nope/nothing', 'no-such-model'),
});
const INPUT = field('input', {
  ok: fc.oneof(text, fc.array(fc.oneof(message, typedMessage), { minLength: 1, maxLength: 3 })),
  bad: fc.constantFrom(42, true, {}, null, [1], ['hi'], MISSING),
  // Items translation cannot express; a provider that speaks the Responses API takes them as they are.
  either: fc.constantFrom(
    [{ type: 'web_search_call', id: 'ws_1' }],
    [{ type: 'item_reference', id: 'msg_1' }],
    [{ role: 'user', content: [{ type: 'input_audio' }] }],
  ),
});
const OPTIONAL = [
  field('instructions', { ok: fc.oneof(text, fc.constant(null)), bad: fc.constantFrom(5, [], {}, true) }),
  field('tools', {
    ok: fc.constantFrom([], null, [{ type: 'function', name: 'get_weather', description: 'Weather.', parameters: { type: 'object', properties: {} } }]),
    bad: fc.constantFrom('x', [1], {}, [{ name: 'f' }]),
    either: fc.constantFrom([{ type: 'web_search' }], [{ type: 'function' }]),
  }),
  field('store', { ok: fc.constantFrom(true, false, null), bad: fc.constantFrom('yes', 1, 0, 'false') }),
  field('stream', { ok: fc.constantFrom(true, false, null), bad: fc.constantFrom(1, 'true', {}) }),
  field('max_output_tokens', {
    ok: fc.oneof(fc.integer({ min: 16, max: 4096 }), fc.constant(null)),
    bad: fc.constantFrom('8', true, {}, []),
    either: fc.constantFrom(0, -1, 1.5, 1e12),
  }),
  field('temperature', { ok: fc.double({ min: 0, max: 2, noNaN: true }), bad: fc.constantFrom('hot', [], true) }),
  field('metadata', { ok: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), bad: fc.constantFrom('x', { a: 1 }, [1]) }),
  field('text', { ok: fc.constantFrom({ format: { type: 'text' } }, {}), bad: fc.constantFrom({ format: { type: 'xml' } }, 'text', { format: 5 }) }),
  field('previous_response_id', {
    ok: fc.constant(null),
    bad: fc.constantFrom('', 5, [], {}),
    refused: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `resp_${s}`),
  }),
];
/** Fields the gateway does not read pass untouched. */
const unread = fc.tuple(fc.stringMatching(/^x_[a-z]{1,8}$/), fc.jsonValue({ maxDepth: 2 })).map(([k, v]): Field => [k, v, 'ok']);
const REQUIRED = ['model', 'input'];
/**
 * A body of taken fields and, in half the cases, one more at some place among them that is not taken
 * (or a required one left out): each refusal is seen on its own, and answers are as common as refusals.
 */
const body = fc
  .tuple(
    MODEL.ok,
    INPUT.ok,
    fc.boolean().map((v): Field => ['stream', v, 'ok']),
    fc.array(fc.oneof(...OPTIONAL.map((f) => f.ok), unread), { maxLength: 4 }),
    fc.option(fc.oneof(...[MODEL, INPUT, ...OPTIONAL].map((f) => f.notOk)), { freq: 2 }),
    fc.nat(),
  )
  .map(([model, input, stream, rest, other, at]) => {
    const taken = [model, input, stream, ...rest];
    if (!other) return taken;
    if (other[1] === MISSING) return taken.filter(([name]) => name !== other[0]);
    return [...taken.slice(0, at % (taken.length + 1)), other, ...taken.slice(at % (taken.length + 1))];
  });
const objectText = (fields: Field[]) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
/** Bodies that are no JSON object. */
const otherBody = fc.oneof(
  fc.json({ maxDepth: 2 }).filter((t) => !t.startsWith('{')),
  fc.constantFrom('', '{', '{"model":', 'null'),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

/** Whether a message names a field (`input:`, `tools.0:`, `input[0]`) or a key (`"x"`). */
const names = (message: string, name: string) =>
  new RegExp(`(?:^|[\\s;(\\[])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[.:\\])]`).test(message) || message.includes(JSON.stringify(name));

/** An error answer in OpenAI's shape, its message returned. */
function openaiError(res: Response, text: string): string {
  expect(res.status, text).toBeGreaterThanOrEqual(400);
  expect(res.status, text).toBeLessThan(500);
  const { error } = JSON.parse(text) as { error: { message: unknown; type: unknown; code: unknown } };
  expect(typeof error.message).toBe('string');
  expect(typeof error.type).toBe('string');
  expect(error.code === null || typeof error.code === 'string').toBe(true);
  return error.message as string;
}

function noSecret(res: Response, text: string) {
  const visible = `${text}\n${[...res.headers].map(([n, v]) => `${n}: ${v}`).join('\n')}`;
  for (const secret of SECRETS) expect(visible).not.toContain(secret);
}

/** The Response object an answer carries: the JSON body, or a stream's final response.completed. */
function responseOf(res: Response, text: string): Record<string, unknown> & { id: string } {
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text);
  const last = parseSse(text).at(-1)!.data as { type: string; response: Record<string, unknown> & { id: string } };
  expect(last.type).toBe('response.completed');
  return last.response;
}

const get = (id: string, key: string) => app.request(`/v1/responses/${encodeURIComponent(id)}`, { headers: userHeaders(key) }, env);

describe('fuzz: /v1/responses bodies', () => {
  it(
    'any body: a Response object when every field is taken, else a 4xx in OpenAI shape naming a bad field; never a 5xx; stored for its user alone',
    async () => {
      const seen = { answered: 0, streamed: 0, refused: 0, namedField: 0, stored: 0 };
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 6, arbitrary: body }, { weight: 1, arbitrary: otherBody }), async (drawn) => {
          const res = await app.request(
            '/v1/responses',
            { method: 'POST', headers: userHeaders(USER_KEY), body: typeof drawn === 'string' ? drawn : objectText(drawn) },
            env,
          );
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          noSecret(res, text);
          if (typeof drawn === 'string') {
            expect(res.status, text).toBe(400);
            openaiError(res, text);
            return void seen.refused++;
          }
          const read = new Map(drawn.map(([k, v, l]) => [k, { value: v, label: l }] as const));
          const bad = [...read].filter(([, f]) => f.label === 'bad').map(([k]) => k);
          for (const name of REQUIRED) if (!read.has(name)) bad.push(name);
          const refused = [...read.values()].some((f) => f.label === 'refused');
          const either = [...read.values()].some((f) => f.label === 'either');
          if (bad.length > 0) {
            expect(res.status, text).toBe(400);
            const message = openaiError(res, text);
            expect(
              bad.some((name) => names(message, name)),
              `${message} names none of ${bad}`,
            ).toBe(true);
            seen.namedField++;
            return void seen.refused++;
          }
          if (refused || (either && res.status >= 400)) {
            openaiError(res, text);
            return void seen.refused++;
          }
          expect(res.status, text).toBe(200);
          const response = responseOf(res, text);
          expect(response).toMatchObject({ object: 'response', id: expect.any(String), output: expect.any(Array) });
          if (read.get('stream')?.value === true) seen.streamed++;
          seen.answered++;
          // Stored unless store: false, and for this user only.
          const own = await get(response.id, USER_KEY);
          const ownText = await own.text();
          if (read.get('store')?.value === false) {
            expect(own.status, ownText).toBe(404);
          } else {
            expect(own.status, ownText).toBe(200);
            // A passed-through stream's stored object also says previous_response_id: null.
            expect(JSON.parse(ownText)).toMatchObject(response);
            seen.stored++;
          }
          const foreign = await get(response.id, OTHER_KEY);
          expect(foreign.status).toBe(404);
          openaiError(foreign, await foreign.text());
        }),
        { numRuns: runs(100) },
      );
      for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(floor(100, 3));
    },
    timeout(100, 120_000),
  );
});

/** Who acts, on what: a stored id by its index among this case's, a near miss of one, or any text. */
type Ref = { index: number; bend: 'none' | 'upper' | 'space' | 'prefix' | 'suffix' | 'encoded' } | { text: string };
const ref: fc.Arbitrary<Ref> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ index: fc.nat(), bend: fc.constant('none' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      index: fc.nat(),
      bend: fc.constantFrom('upper' as const, 'space' as const, 'prefix' as const, 'suffix' as const, 'encoded' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.constantFrom('resp_', '%', '%2F', 'resp_fz0/..', "' OR 1=1 --"))
      .filter((t) => t !== '.' && t !== '..')
      .map((text) => ({ text })),
  },
);
const user = fc.constantFrom(USER_KEY, OTHER_KEY);
type Action = { kind: 'create'; key: string; model: string; store: boolean; from?: Ref } | { kind: 'get' | 'delete'; key: string; ref: Ref };
const create = fc.record({
  kind: fc.constant('create' as const),
  key: user,
  model: fc.constantFrom(...MODELS),
  store: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
  from: fc.option(ref, { nil: undefined }),
});
/** A case stores a response or a few first, then acts on ids. */
const actions: fc.Arbitrary<Action[]> = fc
  .tuple(
    fc.array(create, { minLength: 1, maxLength: 3 }),
    fc.array(
      fc.oneof(create, { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('get' as const, 'get' as const, 'delete' as const), key: user, ref }) }),
      {
        minLength: 1,
        maxLength: 8,
      },
    ),
  )
  .map(([first, rest]) => [...first, ...rest]);

interface Stored {
  id: string;
  key: string;
  kept: boolean;
  deleted: boolean;
  response: unknown;
  /** The stored response it continues. */
  previous?: string;
}

/** The id a reference names: a stored one, bent or not, or the text itself. */
function resolve(r: Ref, stored: Stored[]): string {
  if ('text' in r) return r.text;
  if (stored.length === 0) return 'resp_none';
  const id = stored[r.index % stored.length]!.id;
  const bent = {
    none: id,
    upper: id.toUpperCase(),
    space: `${id} `,
    prefix: id.slice(0, -1),
    suffix: `${id}x`,
    encoded: encodeURIComponent(id).replace(/_/g, '%5F'),
  };
  return bent[r.bend];
}

describe('fuzz: /v1/responses ids', () => {
  it(
    'any id to GET, DELETE and previous_response_id, by its owner or another user: found only by the user who stored it, until deleted; else a 404',
    async () => {
      const seen = { found: 0, continued: 0, deleted: 0, notFound: 0, foreign: 0 };
      await fc.assert(
        fc.asyncProperty(actions, async (acts) => {
          const stored: Stored[] = [];
          const live = (id: string, key: string) => stored.find((s) => s.id === id && s.key === key && s.kept && !s.deleted);
          // A conversation continues only while each of its turns is there: one deleted breaks it.
          const continuable = (id: string, key: string): boolean => {
            const entry = live(id, key);
            return entry !== undefined && (entry.previous === undefined || continuable(entry.previous, key));
          };
          const countMiss = (id: string, key: string) => {
            if (stored.some((s) => s.id === id && s.key !== key && s.kept && !s.deleted)) seen.foreign++;
            seen.notFound++;
          };
          for (const a of acts) {
            if (a.kind === 'create') {
              const from = a.from && resolve(a.from, stored);
              const res = await app.request(
                '/v1/responses',
                {
                  method: 'POST',
                  headers: userHeaders(a.key),
                  body: JSON.stringify({ model: a.model, input: 'hi', store: a.store, ...(from ? { previous_response_id: from } : {}) }),
                },
                env,
              );
              const text = await res.text();
              noSecret(res, text);
              if (from !== undefined && !continuable(from, a.key)) {
                expect(res.status, text).toBe(404);
                expect(JSON.parse(text).error.code).toBe('previous_response_not_found');
                countMiss(from, a.key);
                continue;
              }
              expect(res.status, text).toBe(200);
              const response = JSON.parse(text) as { id: string; previous_response_id?: string | null };
              if (from !== undefined) {
                expect(response.previous_response_id).toBe(from);
                seen.continued++;
              }
              stored.push({ id: response.id, key: a.key, kept: a.store, deleted: false, response, previous: from });
              continue;
            }
            const id = resolve(a.ref, stored);
            const path = `/v1/responses/${encodeURIComponent(id)}`;
            const res = await app.request(path, { method: a.kind === 'get' ? 'GET' : 'DELETE', headers: userHeaders(a.key) }, env);
            const text = await res.text();
            noSecret(res, text);
            const entry = live(id, a.key);
            if (!entry) {
              expect(res.status, `${a.kind} ${path}: ${text}`).toBe(404);
              openaiError(res, text);
              countMiss(id, a.key);
              continue;
            }
            expect(res.status, text).toBe(200);
            if (a.kind === 'get') {
              expect(JSON.parse(text)).toEqual(entry.response);
              seen.found++;
            } else {
              expect(JSON.parse(text)).toEqual({ id, object: 'response', deleted: true });
              entry.deleted = true;
              seen.deleted++;
            }
          }
        }),
        { numRuns: runs(60) },
      );
      for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(floor(60, 3));
    },
    timeout(60, 120_000),
  );
});
