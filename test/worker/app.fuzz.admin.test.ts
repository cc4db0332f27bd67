import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { clearUsersCache } from '../../src/users/store';
import { digestText } from '../../src/vault/crypto';
import { Users } from '../../src/vault/schema';
import { makeEnv, USER_KEY } from './helpers/env';
import { configureFuzz, floor, runs, timeout } from './helpers/fuzz';
import { VAULT_TOKEN } from './helpers/vault';

// Properties of the operator's users API (README, "Operating the gateway") over any body, user name,
// content type and credential. The generators label every field they draw as valid or not, so the oracle is the label, not
// the gateway's schema: a call is answered 2xx, or a 4xx JSON error that names a bad field; never a
// 5xx, never a key or a digest; the users map in KV stays valid after every call, and a refused call
// leaves it byte for byte as it was.

configureFuzz();

/** Hand-written users (plaintext keys, names the API would not create) beside users the API created (digests). */
const HAND_KEYS: Record<string, string> = {
  tester: USER_KEY,
  'a b': 'sy-hand-key-space-000000000002',
  ünï: 'sy-hand-key-unicode-0000000003',
  'x/y': 'sy-hand-key-slash-000000000004',
};
const API_KEYS: Record<string, string> = { audrey: 'sy-audrey-api-key-00000000005', 'Team.Lead@corp': 'sy-lead-api-key-000000000006' };
const NAMES = [...Object.keys(HAND_KEYS), ...Object.keys(API_KEYS)];

let env: Bindings;
let initial: string;
/** Every key and every digest the map holds or could hold: none may appear in an answer. */
let secrets: string[];

beforeAll(async () => {
  const users: Record<string, Record<string, unknown>> = {};
  for (const [name, key] of Object.entries(HAND_KEYS)) users[name] = { id: `id-${NAMES.indexOf(name)}`, key, team: 'core' };
  for (const [name, key] of Object.entries(API_KEYS)) {
    users[name] = { id: `id-${NAMES.indexOf(name)}`, keySha256: await digestText(key), keyHint: key.slice(-4), rpm: 30, providers: ['groq'] };
  }
  env = await makeEnv({ users });
  initial = (await env.KV_AI_PROXY.get('users'))!;
  const keys = [...Object.values(HAND_KEYS), ...Object.values(API_KEYS)];
  secrets = [...keys, ...(await Promise.all(keys.map(digestText))), VAULT_TOKEN];
});

/** Each case starts from the same map (the users object adopts a KV value written by hand). */
async function resetUsers() {
  await env.KV_AI_PROXY.put('users', initial);
  clearUsersCache();
}

const storedText = async () => (await env.KV_AI_PROXY.get('users'))!;
const parsedUsers = (text: string) => JSON.parse(text) as Record<string, Record<string, unknown>>;

/** Whether a message names a field (`rpm:`, `providers.0:`) or a refused key (`"admin"`), as describeIssues writes them. */
const names = (message: string, field: string) =>
  new RegExp(`(?:^|[\\s;])${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[.:]`).test(message) || message.includes(JSON.stringify(field));

function expectError(res: Response, text: string) {
  expect(res.status, text).toBeGreaterThanOrEqual(400);
  expect(res.status, text).toBeLessThan(500);
  const { error } = JSON.parse(text) as { error: { message: unknown; type: unknown } };
  expect(typeof error.message).toBe('string');
  expect(typeof error.type).toBe('string');
  return error.message as string;
}

function expectNoSecret(text: string, res: Response, own?: string) {
  const visible = `${text}\n${[...res.headers].map(([n, v]) => `${n}: ${v}`).join('\n')}`.replace(own ?? '\0', '');
  for (const secret of secrets) expect(visible).not.toContain(secret);
}

/** A field: its name, its value, and whether the schema must take it. */
type Field = [name: string, value: unknown, ok: boolean];
/** A required field left out. */
const MISSING = Symbol('missing');
const strings = fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 3 });
/** Each limit with values the schema takes and values it refuses. */
const LIMITS: [string, fc.Arbitrary<unknown>, fc.Arbitrary<unknown>][] = [
  ['rpm', fc.integer({ min: 1, max: 100_000 }), fc.oneof(fc.constantFrom(0, -1, 1.5, '10', true, [], {}), fc.integer({ max: 0 }))],
  ['providers', strings, fc.constantFrom('groq', [1], {}, [null], true, [['groq']])],
  ['models', strings, fc.constantFrom('groq/llama', [2], { a: 1 }, false)],
  ['disabled', fc.boolean(), fc.constantFrom('true', 0, 1, 'no', [])],
  [
    'expiresAt',
    fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom('tomorrow', '', 'not a date', 'soon', 20300101, true),
  ],
  [
    'monthlyBudgetUsd',
    fc.double({ min: 0, max: 1e9, noNaN: true }),
    fc.oneof(fc.constantFrom('5', true, [5]), fc.double({ max: -1e-9, min: -1e9, noNaN: true })),
  ],
  ['dailyTokens', fc.nat(), fc.constantFrom(-1, 1.5, '100', true, 'null')],
];
const LIMIT_NAMES = LIMITS.map(([name]) => name);
const goodLimit = fc.oneof(...LIMITS.map(([name, good]) => good.map((v): Field => [name, v, true])));
const badLimit = fc.oneof(...LIMITS.map(([name, , bad]) => bad.map((v): Field => [name, v, false])));
/** null removes a limit in a patch; a new user has no limit to remove. */
const nullLimit = (ok: boolean) => fc.constantFrom(...LIMIT_NAMES).map((name): Field => [name, null, ok]);
/** Keys no body may set: the key, its digest and hint, the id, and anything unknown. */
const unknownKey = fc
  .oneof(
    fc.constantFrom('key', 'keySha256', 'keyHint', 'id', 'admin', '__proto__', 'constructor', 'toString', 'rpm ', 'RPM'),
    fc.stringMatching(/^[a-z_]{1,10}$/),
  )
  .filter((k) => ![...LIMIT_NAMES, 'name'].includes(k))
  .map((k): Field => [k, 1, false]);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const goodName = fc.stringMatching(NAME).map((v): Field => ['name', v, true]);
/** Names taken already (a 409; a 400 for a hand-written one the schema refuses), names it refuses, and no name. */
const otherName = fc.oneof(
  fc.constantFrom(...NAMES).map((v): Field => ['name', v, NAME.test(v)]),
  fc
    .constantFrom('', 'a b', 'new user', ' lead', 'tab\tname', '-x', 'x'.repeat(65), 42, null, '../x', 'ünï', 'née', 'x/y', '_x', 'a\u0000', 'a%2Fb')
    .map((v): Field => ['name', v, false]),
  fc.constant<Field>(['name', MISSING, false]),
);
/**
 * Taken fields and, in half the bodies, one more at some place among them that is not taken (or a
 * required one left out): each refusal is seen on its own, and accepted changes are as common as refusals.
 */
const withOne = (taken: fc.Arbitrary<Field[]>, other: fc.Arbitrary<Field>) =>
  fc.tuple(taken, fc.option(other, { freq: 2 }), fc.nat()).map(([fields, extra, at]) => {
    if (!extra) return fields;
    if (extra[1] === MISSING) return fields.filter(([name]) => name !== extra[0]);
    const i = at % (fields.length + 1);
    return [...fields.slice(0, i), extra, ...fields.slice(i)];
  });
const createFields = withOne(
  fc.tuple(goodName, fc.array(goodLimit, { maxLength: 4 })).map(([name, limits]) => [name, ...limits]),
  fc.oneof(otherName, badLimit, nullLimit(false), unknownKey),
);
const patchFields = withOne(
  fc.array(fc.oneof({ weight: 3, arbitrary: goodLimit }, nullLimit(true)), { maxLength: 4 }),
  fc.oneof(badLimit, unknownKey, fc.constant<Field>(['name', 'renamed', false])),
);

/** A JSON object text with the fields in order (duplicates too: the last one counts, as in JSON.parse). */
const objectText = (fields: Field[]) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
/** The fields as JSON.parse reads them: the last of each name. */
const effective = (fields: Field[]) => new Map(fields.map(([k, v, ok]) => [k, { value: v, ok }] as const));

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/vnd.switchyard+json'];
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...JSON_TYPES) },
  { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined) },
);
/** Bodies that are no object of fields: any other JSON, broken JSON, bytes, nothing. */
const otherBody = fc.oneof(
  fc.json({ maxDepth: 2 }).filter((text) => !text.startsWith('{')),
  fc.constantFrom('', '{', '{"rpm":', 'null', '[]', '{"rpm":5}{"rpm":6}', '{"rpm":5,}'),
  fc.string({ unit: 'binary', maxLength: 60 }).filter((text) => !text.trimStart().startsWith('{')),
);
/** Names to address: the map's own, near misses and any text, always percent-encoded as a client would. */
const targetName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'TESTER',
      'tester ',
      ' tester',
      'x%2Fy',
      'x',
      'y',
      'a+b',
      'a%20b',
      'ünï'.normalize('NFD'),
      '__proto__',
      'constructor',
      'hasOwnProperty',
      '.',
      '..',
      '%',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
);
const credential = fc.oneof(
  { weight: 12, arbitrary: fc.constant(`Bearer ${VAULT_TOKEN}`) },
  fc.constantFrom(`Bearer ${USER_KEY}`, `Bearer ${VAULT_TOKEN}x`, '', VAULT_TOKEN),
);

type Call =
  | { kind: 'create'; fields: Field[] | undefined; body: string }
  | { kind: 'patch'; name: string; fields: Field[] | undefined; body: string }
  | { kind: 'rotate'; name: string; body: string }
  | { kind: 'delete'; name: string; body: string }
  | { kind: 'list' };
const call: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .oneof({ weight: 4, arbitrary: createFields }, { weight: 1, arbitrary: fc.constant(undefined) })
      .chain((fields) => (fields ? fc.constant(objectText(fields)) : otherBody).map((body): Call => ({ kind: 'create', fields, body }))),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(targetName, fc.option(patchFields, { freq: 5, nil: undefined }))
      .chain(([name, fields]) => (fields ? fc.constant(objectText(fields)) : otherBody).map((body): Call => ({ kind: 'patch', name, fields, body }))),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.boolean(), targetName, otherBody)
      .map(([rotate, name, body]): Call => (rotate ? { kind: 'rotate', name, body } : { kind: 'delete', name, body })),
  },
  { weight: 1, arbitrary: fc.constant<Call>({ kind: 'list' }) },
);

const ROUTE: Record<Call['kind'], (name: string) => [string, string]> = {
  create: () => ['POST', '/admin/users'],
  patch: (name) => ['PATCH', `/admin/users/${name}`],
  rotate: (name) => ['POST', `/admin/users/${name}/rotate`],
  delete: (name) => ['DELETE', `/admin/users/${name}`],
  list: () => ['GET', '/admin/users'],
};

/** Limits as the API shows them: `null` where none is set. */
const shown = (user: Record<string, unknown>) => Object.fromEntries(LIMIT_NAMES.map((k) => [k, user[k] ?? (k === 'disabled' ? false : null)]));

describe('fuzz: the users API', () => {
  it(
    'any body, name, content type and credential: 2xx as the labels say, else a 4xx naming a bad field; no key or digest shown; the map stays valid, unchanged when refused',
    async () => {
      const seen = { listed: 0, created: 0, patched: 0, rotated: 0, deleted: 0, refused: 0, namedField: 0 };
      await fc.assert(
        fc.asyncProperty(call, contentType, credential, async (c, type, auth) => {
          await resetUsers();
          const before = parsedUsers(initial);
          const target = 'name' in c ? c.name : '';
          const [method, path] = ROUTE[c.kind](encodeURIComponent(target));
          const headers: Record<string, string> = {};
          if (auth) headers.authorization = auth;
          if (type && c.kind !== 'list') headers['content-type'] = type;
          const res = await app.request(path, { method, headers, body: c.kind === 'list' || c.body === '' ? undefined : c.body }, env);
          const text = await res.text();
          const after = await storedText();
          expect(Users.safeParse(JSON.parse(after)).success, after).toBe(true);

          const refused = () => {
            const message = expectError(res, text);
            expectNoSecret(text, res);
            expect(after, 'a refused call changes nothing').toBe(initial);
            seen.refused++;
            return message;
          };
          // '.' and '..' are path steps the URL parser resolves, and '' leaves no name: no user is addressed.
          const unroutable = c.kind !== 'list' && c.kind !== 'create' && ['.', '..', ''].includes(target);
          const operator = auth === `Bearer ${VAULT_TOKEN}`;
          if (!operator || unroutable) {
            expect(operator ? [404] : unroutable ? [401, 404] : [401]).toContain(res.status);
            return void refused();
          }
          const isJson = type !== undefined && JSON_TYPES.includes(type);
          const exists = Object.hasOwn(before, target);

          if (c.kind === 'list') {
            expect(res.status).toBe(200);
            expectNoSecret(text, res);
            expect((JSON.parse(text) as { data: { name: string }[] }).data.map((u) => u.name)).toEqual(NAMES);
            seen.listed++;
            return;
          }
          if (c.kind === 'rotate' || c.kind === 'delete') {
            if (!exists) {
              expect(res.status).toBe(404);
              return void refused();
            }
            if (c.kind === 'delete') {
              expect(res.status).toBe(204);
              expect(Object.keys(parsedUsers(after))).toEqual(NAMES.filter((n) => n !== target));
              seen.deleted++;
              return;
            }
            expect(res.status, text).toBe(200);
            const { key } = JSON.parse(text) as { key: string };
            expectNoSecret(text, res, key);
            expect(text).not.toContain(await digestText(key));
            const user = parsedUsers(after)[target]!;
            expect(user).toMatchObject({ keySha256: await digestText(key), keyHint: key.slice(-4), id: before[target]!.id });
            expect(user.key).toBeUndefined();
            expect(after).not.toContain(key);
            seen.rotated++;
            return;
          }

          // Create and patch. A body not declared JSON is never read; other JSON than an object of fields is refused.
          const read = c.fields && isJson ? effective(c.fields) : undefined;
          if (!read) {
            if (res.status >= 400) return void refused();
            expect(!isJson && c.kind === 'patch', `${res.status} ${text}`).toBe(true);
            expect(parsedUsers(after)).toEqual(before);
            return;
          }
          const bad = [...read].filter(([, f]) => !f.ok).map(([k]) => k);
          if (c.kind === 'create' && !read.has('name')) bad.push('name');
          if (bad.length > 0) {
            expect(res.status, text).toBe(400);
            const message = refused();
            expect(
              bad.some((k) => names(message, k)),
              `${message} names none of ${bad}`,
            ).toBe(true);
            seen.namedField++;
            return;
          }
          const values = Object.fromEntries([...read].map(([k, f]) => [k, f.value]));
          if (c.kind === 'create') {
            const name = values.name as string;
            if (Object.hasOwn(before, name)) {
              expect(res.status).toBe(409);
              return void refused();
            }
            expect(res.status, text).toBe(201);
            const answer = JSON.parse(text) as { key: string; id: string };
            expectNoSecret(text, res, answer.key);
            expect(text).not.toContain(await digestText(answer.key));
            const { name: _, ...limits } = values;
            expect(answer).toMatchObject({ name, keyHint: answer.key.slice(-4), ...shown(limits) });
            const users = parsedUsers(after);
            expect(users[name]).toEqual({ id: answer.id, keySha256: await digestText(answer.key), keyHint: answer.key.slice(-4), ...limits });
            // Sets, not lists: JavaScript puts integer-like names such as "0" first in an object.
            expect(Object.keys(users).sort()).toEqual([...NAMES, name].sort());
            seen.created++;
            return;
          }
          if (!exists) {
            expect(res.status).toBe(404);
            return void refused();
          }
          expect(res.status, text).toBe(200);
          expectNoSecret(text, res);
          const expected = { ...before[target]! };
          for (const [k, v] of Object.entries(values)) {
            if (v === null) delete expected[k];
            else expected[k] = v;
          }
          expect(parsedUsers(after)[target]).toEqual(expected);
          expect(JSON.parse(text)).toMatchObject({ name: target, ...shown(expected) });
          seen.patched++;
        }),
        { numRuns: runs(150) },
      );
      for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(floor(150, 0));
    },
    timeout(150, 120_000),
  );
});
