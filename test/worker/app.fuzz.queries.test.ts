import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, USER_KEY } from './helpers/env';
import { configureFuzz, floor, runs, timeout } from './helpers/fuzz';
import { VAULT_TOKEN } from './helpers/vault';

// Properties of the operator's usage queries (GET /admin/usage, GET /admin/requests) over any query
// string. Each parameter is drawn with a label (taken, refused, or either: forms a lenient reading may
// take, such as limit=0x10), and the oracle is the label: a 200 list when every parameter is taken, a
// 400 naming a refused one otherwise; never a 5xx, never a key.

configureFuzz();

let env: Bindings;
beforeAll(async () => {
  env = await makeEnv();
});

type Label = 'ok' | 'bad' | 'either';
type Param = [name: string, value: string, label: Label];
const label =
  (name: string, l: Label) =>
  (value: string): Param => [name, value, l];
/** A parameter's values the API takes, and those it refuses (or may: `either`). */
const param = (name: string, ok: fc.Arbitrary<string>, bad: fc.Arbitrary<string>, either?: fc.Arbitrary<string>) => ({
  ok: ok.map(label(name, 'ok')),
  notOk: fc.oneof({ weight: 2, arbitrary: bad.map(label(name, 'bad')) }, ...(either ? [either.map(label(name, 'either'))] : [])),
});

const day = fc.date({ min: new Date('1970-01-01'), max: new Date('2100-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const notDay = fc.constantFrom(
  '2024-02-30',
  '2023-02-29',
  '2024-13-01',
  '24-01-01',
  'today',
  '',
  '2024-1-1',
  '2024-01-01T00:00:00Z',
  '2024/01/01',
  ' 2024-01-01',
);
const GROUPS = ['user', 'provider', 'model', 'day'];
const groupBy = fc
  .tuple(fc.shuffledSubarray(GROUPS), fc.constantFrom(',', ', ', ' , '))
  .map(([fields, comma]) => fields.join(comma))
  .chain((text) => fc.constantFrom(text, ` ${text} `));
const notGroupBy = fc.constantFrom('user,user', 'users', 'time', 'USER', 'user,', ',', 'day;drop table usage_records', 'user|model', 'day, day');
const USAGE = [
  param('from', day, notDay),
  param('to', day, notDay),
  // Blank but not empty (no field, padded): "no grouping" or refused.
  param(
    'group_by',
    groupBy.filter((text) => text === '' || text.trim() !== ''),
    notGroupBy,
    fc.constantFrom(' ', '  '),
  ),
];

const base64url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: 24 });
const REQUESTS = [
  ...['user', 'provider', 'model'].map((name) => param(name, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.constant(''))),
  param(
    'status',
    fc.oneof(fc.integer({ min: 100, max: 599 }).map(String), fc.constantFrom('1xx', '2xx', '3xx', '4xx', '5xx')),
    fc.constantFrom('600', '099', '42', '4XX', 'xx', '', '4xxx', '0xx', '6xx', ' 429', '429 ', '4x x', '２００'),
  ),
  param(
    'limit',
    fc.integer({ min: 1, max: 200 }).map(String),
    fc.oneof(
      fc.constantFrom('0', '-5', '1.5', 'abc', 'Infinity', 'NaN', '1e9', '201', '1000'),
      fc.integer({ min: 201, max: 1000 }).map(String),
      fc.integer({ max: 0 }).map(String),
    ),
    // A number's other spellings: read as that number or refused, either is sound.
    fc.constantFrom(' 5', '1e2', '0x10', '5.0', '050', '+5', ''),
  ),
  param(
    'cursor',
    fc.tuple(ascii, ascii).map((pair) => base64url(JSON.stringify(pair))),
    fc.constantFrom('', '!!!', '$', '%E0%A4%A', ...['{"a":1}', 'null', '5', '[1,2]', '[]', '[null,null]', '[["a"],"b"]', '["a",2]'].map(base64url)),
    fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary-ascii', maxLength: 20 }).map(base64url)),
  ),
];
const unknown = (known: string[]) =>
  fc
    .oneof(
      fc.constantFrom('x', 'group', 'FROM', 'Limit', '__proto__', 'constructor', 'from_', 'limit', 'from', 'group_by', 'cursor'),
      fc.stringMatching(/^[a-z_]{1,8}$/),
    )
    .filter((name) => !known.includes(name))
    .chain((name) => ascii.map(label(name, 'bad')));

const ROUTES = {
  '/admin/usage': { params: USAGE, unknown: unknown(['from', 'to', 'group_by']) },
  '/admin/requests': { params: REQUESTS, unknown: unknown(['user', 'provider', 'model', 'status', 'limit', 'cursor']) },
};
type Route = keyof typeof ROUTES;

/** A query as a client builds it (URLSearchParams), or, one time in six, any text after the `?`. */
const query = fc.constantFrom(...(Object.keys(ROUTES) as Route[])).chain((route) =>
  fc.oneof(
    {
      weight: 5,
      // Taken parameters, and mostly one other at some place among them: each refusal is seen on its own.
      arbitrary: fc
        .tuple(
          fc.array(fc.oneof(...ROUTES[route].params.map((p) => p.ok)), { maxLength: 3 }),
          fc.option(fc.oneof({ weight: 4, arbitrary: fc.oneof(...ROUTES[route].params.map((p) => p.notOk)) }, ROUTES[route].unknown), { freq: 3 }),
          fc.nat(),
        )
        .map(([taken, other, at]) => {
          // A new array: fast-check's values are shrunk later and must stay as drawn.
          const params = other ? [...taken.slice(0, at % (taken.length + 1)), other, ...taken.slice(at % (taken.length + 1))] : taken;
          return { route, params, raw: undefined as string | undefined };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.string({ maxLength: 60 }), fc.constantFrom('%', '%zz', 'from=%E0%A4%A', 'limit=%00', '&&=&', 'limit', 'group_by', 'a=1&a=2', 'cursor=%'))
        .map((raw) => ({ route, params: [] as Param[], raw })),
    },
  ),
);

/** The query parameters a 400 may name (describeIssues: `name:` or `name.0:`, or `"name"` for an unknown one). */
const names = (message: string, name: string) =>
  new RegExp(`(?:^|[\\s;])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[.:]`).test(message) || message.includes(JSON.stringify(name));

describe('fuzz: usage queries', () => {
  it(
    'any query string on /admin/usage and /admin/requests: a 200 list when every parameter is valid, else a 400 naming one; never a 5xx',
    async () => {
      const seen = { listed: 0, refused: 0, raw: 0 };
      await fc.assert(
        fc.asyncProperty(query, async ({ route, params, raw }) => {
          const search = raw ?? new URLSearchParams(params.map(([name, value]) => [name, value])).toString();
          const res = await app.request(`${route}?${search}`, { headers: { authorization: `Bearer ${VAULT_TOKEN}` } }, env);
          const text = await res.text();
          expect([200, 400], text).toContain(res.status);
          expect(text).not.toContain(VAULT_TOKEN);
          expect(text).not.toContain(USER_KEY);
          const body = JSON.parse(text) as { object?: string; data?: unknown[]; from?: string; to?: string; error?: { message: string; type: string } };
          if (res.status === 400) {
            expect(body.error?.message, text).toMatch(/^invalid query parameter/);
            expect(typeof body.error?.type).toBe('string');
          } else {
            expect(body.object).toBe('list');
            expect(Array.isArray(body.data)).toBe(true);
          }
          if (raw !== undefined) return void seen.raw++;

          // A name given twice arrives as a list, which no parameter takes.
          const count = new Map<string, number>();
          for (const [name] of params) count.set(name, (count.get(name) ?? 0) + 1);
          const bad = new Set(params.filter(([name, , l]) => l === 'bad' || count.get(name)! > 1).map(([name]) => name));
          const either = new Set(params.filter(([, , l]) => l === 'either').map(([name]) => name));
          const value = (name: string) => params.find(([n]) => n === name);
          const [from, to] = [value('from'), value('to')];
          if (from?.[2] === 'ok' && to?.[2] === 'ok' && !bad.has('from') && !bad.has('to') && from[1] > to[1]) bad.add('from');

          if (bad.size === 0 && either.size === 0) {
            expect(res.status, text).toBe(200);
            if (route === '/admin/usage') {
              if (from) expect(body.from).toBe(from[1]);
              if (to) expect(body.to).toBe(to[1]);
            } else {
              const limit = value('limit');
              expect(body.data!.length).toBeLessThanOrEqual(limit ? Number(limit[1]) : 50);
            }
            seen.listed++;
            return;
          }
          if (res.status === 200) {
            expect(bad.size, `${text}: refused parameters ${[...bad]} were taken`).toBe(0);
            seen.listed++;
            return;
          }
          const named = [...bad, ...either];
          expect(
            named.some((name) => names(body.error!.message, name)),
            `${body.error!.message} names none of ${named}`,
          ).toBe(true);
          seen.refused++;
        }),
        { numRuns: runs(300) },
      );
      for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(floor(300, 20));
    },
    timeout(300, 60_000),
  );
});
