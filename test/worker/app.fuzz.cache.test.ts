import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, USER_KEY } from './helpers/env';
import { mockUpstream } from './helpers/fetch';
import { configureFuzz, floor, runs, timeout } from './helpers/fuzz';
import { providerAnswer } from './helpers/stand-in';
import { forgetKeyRests } from './unified/answers';

// Properties of the response cache (README, "Response cache") over any X-Switchyard-Cache-Ttl value
// and the cache headers clients send. Each case asks one question (a body no other case asks) several
// times, seconds or hours apart on the gateway's clock, and a model of the cache says what each answer
// must be: a 400 naming the header for a value that is not a whole number from 0 to 86 400; BYPASS for
// none or 0, which calls the provider and stores nothing; MISS, which calls and stores, when nothing
// fresh is stored; HIT with the stored bytes while the entry is younger than both TTLs. No answer
// carries the provider's caching headers.

configureFuzz();

let env: Bindings;
beforeAll(async () => {
  env = await makeEnv();
});
afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

/** Caching a shared cache on the way would act on, as a provider might send it. */
const PROVIDER_CACHING: Record<string, string> = {
  'cache-control': 'public, max-age=31536000, immutable',
  etag: '"provider-etag"',
  expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
  'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
  age: '100000',
  vary: 'accept-encoding',
  pragma: 'public',
};
const cachingProvider = () =>
  mockUpstream((call) => {
    const answer = providerAnswer(call);
    const headers = new Headers(answer.headers);
    for (const [name, value] of Object.entries(PROVIDER_CACHING)) headers.set(name, value);
    return new Response(answer.body, { status: answer.status, headers });
  });

/** A TTL header as sent: none, one value, or two (which arrive joined: "60, 60"), with the seconds it stands for or null when it must be refused. */
type Ttl = { values: string[]; seconds: number | null };
const pad = fc.constantFrom('', ' ', '\t', '  ');
const whole = fc.oneof(fc.constantFrom(0, 1, 2, 60, 600, 86_400), fc.integer({ min: 0, max: 86_400 }));
const ttl: fc.Arbitrary<Ttl> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Ttl>({ values: [], seconds: 0 }) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(pad, whole, pad, fc.boolean())
      .map(([a, n, b, zeros]) => ({ values: [`${a}${zeros ? String(n).padStart(6, '0') : n}${b}`], seconds: n })),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.constantFrom('-1', '1.5', '86401', '1e3', '', 'abc', '0x10', '+5', '١٢', '1 2', '9999999', 'Infinity', 'NaN', '5s', '60;', '600 600', '-0'),
        fc.integer({ min: 86_401 }).map(String),
        fc.integer({ max: -1 }).map(String),
        fc
          .double({ noNaN: true })
          .filter((d) => !Number.isInteger(d))
          .map(String),
        fc.string({ maxLength: 12 }).filter((s) => !/^\s*\d{1,6}\s*$/.test(s) || Number(s) > 86_400),
      )
      .map((v) => ({ values: [v], seconds: null })),
  },
  { weight: 1, arbitrary: fc.tuple(whole, whole).map(([a, b]) => ({ values: [String(a), String(b)], seconds: null })) },
);
/** Cache headers of HTTP clients and proxies: the gateway's cache takes no notice of them. */
const clientCaching = fc.record(
  {
    'cache-control': fc.constantFrom('no-cache', 'no-store', 'max-age=0', 'only-if-cached', 'max-stale=100', 'public, max-age=86400'),
    pragma: fc.constantFrom('no-cache', 'public'),
    'if-none-match': fc.constantFrom('"provider-etag"', '*', 'W/"x"'),
    'if-modified-since': fc.constantFrom('Thu, 01 Jan 2099 00:00:00 GMT', 'Mon, 01 Jan 1990 00:00:00 GMT', 'garbage'),
    'x-switchyard-cache': fc.constantFrom('HIT', 'MISS', 'BYPASS'),
    age: fc.constantFrom('0', '99999'),
  },
  { requiredKeys: [] },
);

/** Cacheable calls on the proxy and unified routes, plain and streamed; the body is made unique per case. */
const ROUTES: [string, (nonce: string, stream: boolean) => unknown][] = [
  ['/groq/v1/chat/completions', (nonce, stream) => ({ model: 'llama-3.3-70b-versatile', stream, messages: [{ role: 'user', content: nonce }] })],
  ['/v1/chat/completions', (nonce, stream) => ({ model: 'llama-3.3-70b-versatile', stream, messages: [{ role: 'user', content: nonce }] })],
  ['/anthropic/v1/messages', (nonce, stream) => ({ model: 'claude-sonnet-4-5', max_tokens: 64, stream, messages: [{ role: 'user', content: nonce }] })],
  ['/v1/messages', (nonce, stream) => ({ model: 'groq/llama-3.3-70b-versatile', max_tokens: 64, stream, messages: [{ role: 'user', content: nonce }] })],
];

/** The test's clock, which the gateway reads too (Date.now in this isolate), moved forward between requests. */
const realNow = Date.now.bind(Date);
let ahead = 0;
const now = () => ({ clock: Date.now(), real: realNow() });
/** Seconds between two requests: around the TTLs drawn, so that entries go stale. */
const wait = fc.constantFrom(0, 0, 0, 1, 2, 59, 61, 599, 601, 3601);

/** One request in its own execution context, read to the end, its background work (the store) awaited. */
async function ask(path: string, body: string, ttlValues: string[], caching: Record<string, string>) {
  const headers = new Headers({ ...caching, authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' });
  for (const value of ttlValues) headers.append('X-Switchyard-Cache-Ttl', value);
  const ctx = createExecutionContext();
  const res = await app.request(path, { method: 'POST', headers, body }, env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

describe('fuzz: cache headers', () => {
  it(
    'any TTL header and client cache headers, asked again and again: 400, BYPASS, MISS or HIT as the model of the cache says; a HIT is the stored bytes; always no-store',
    async () => {
      const { calls } = cachingProvider();
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ahead);
      const seen = { refused: 0, bypass: 0, miss: 0, hit: 0, stale: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: ROUTES.length - 1 }),
          fc.boolean(),
          fc.array(fc.tuple(ttl, clientCaching, wait), { minLength: 1, maxLength: 6 }),
          async (route, stream, requests) => {
            const [path, makeBody] = ROUTES[route]!;
            const body = JSON.stringify(makeBody(`fuzz ${crypto.randomUUID()}`, stream));
            /** The entry the cache holds for this question: stored between `at` and `done`, for `seconds`, these bytes. */
            let entry: { at: ReturnType<typeof now>; done: ReturnType<typeof now>; seconds: number; text: string } | undefined;
            for (const [{ values, seconds }, caching, pause] of requests) {
              ahead += pause * 1000;
              const before = calls.length;
              const sent = now();
              const { res, text } = await ask(path, body, values, caching);
              const after = now();
              const status = res.headers.get('x-switchyard-cache');
              for (const name of ['etag', 'expires', 'last-modified', 'vary', 'pragma']) expect(res.headers.has(name), name).toBe(false);
              if (seconds === null) {
                expect(res.status, text).toBe(400);
                // In the client's dialect: Anthropic's errors have a type and no code.
                const { error } = JSON.parse(text) as { error: { code?: string; type: string; message: string } };
                expect(error.code ?? 'invalid_cache_ttl').toBe('invalid_cache_ttl');
                expect(error.type).toBe('invalid_request_error');
                expect(error.message).toContain('X-Switchyard-Cache-Ttl');
                expect(calls.length, 'a refused request calls no provider').toBe(before);
                expect(res.headers.get('cache-control')).not.toBe(PROVIDER_CACHING['cache-control']);
                seen.refused++;
                continue;
              }
              expect(res.status, text).toBe(200);
              expect(res.headers.get('cache-control')).toBe('no-store');
              if (seconds === 0) {
                expect(status).toBe('BYPASS');
                expect(calls.length).toBe(before + 1);
                seen.bypass++;
                continue;
              }
              // An entry serves while younger than both its TTL and this request's. Fresh for sure: stored no
              // earlier than `at`, looked up no later than `after` (and the Cache API's own max-age, on the
              // real clock, has not run out); stale for sure: stored no later than `done`, looked up after `sent`.
              const bound = entry && Math.min(entry.seconds, seconds) * 1000;
              const fresh = entry && after.clock - entry.at.clock < bound! && after.real - entry.at.real < entry.seconds * 1000;
              const stale = entry && sent.clock - entry.done.clock >= bound!;
              expect(fresh ? ['HIT'] : !entry || stale ? ['MISS'] : ['HIT', 'MISS']).toContain(status);
              if (stale) seen.stale++;
              if (status === 'HIT') {
                expect(calls.length, 'a hit calls no provider').toBe(before);
                expect(text).toBe(entry!.text);
                const age = Number(res.headers.get('age'));
                expect(age).toBeGreaterThanOrEqual(Math.floor((sent.clock - entry!.done.clock) / 1000));
                expect(age).toBeLessThanOrEqual((after.clock - entry!.at.clock) / 1000);
                seen.hit++;
              } else {
                expect(calls.length).toBe(before + 1);
                expect(res.headers.has('age')).toBe(false);
                entry = { at: sent, done: after, seconds, text };
                seen.miss++;
              }
            }
          },
        ),
        { numRuns: runs(60) },
      );
      for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(floor(60, 5));
    },
    timeout(60, 120_000),
  );
});
