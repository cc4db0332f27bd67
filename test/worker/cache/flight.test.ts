import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { Flight } from '../../../src/cache/flight';
import type { Bindings } from '../../../src/env';
import { makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { mockUpstream } from '../helpers/fetch';
import { controlledStream, jsonResponse, openaiChatCompletion, openaiChatStream, openaiError } from '../helpers/wire';
import { forgetKeyRests } from '../unified/answers';

// Identical cacheable requests in flight at once: one upstream call (counted at the stand-in), every
// request gets the whole answer, streams fanned out from their first byte to every member.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const MODEL = 'llama-3.3-70b-versatile';
const TTL = { 'X-Switchyard-Cache-Ttl': '600' };
const OTHER_KEY = 'sy-user-key-other-0123456789';

const question = (extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content: `hi ${crypto.randomUUID()}` }], ...extra });

/** Starts a request with its own execution context; `done` awaits its background work. */
async function start(env: Bindings, path: string, body: unknown, key = USER_KEY, signal?: AbortSignal) {
  const ctx = createExecutionContext();
  const res = await app.request(path, { method: 'POST', headers: userHeaders(key, TTL), body: JSON.stringify(body), signal }, env, ctx);
  return { res, done: () => waitOnExecutionContext(ctx) };
}

/** Resolves once `count()` reaches `n` (fails after 3 s rather than hanging). */
async function until(count: () => number, n: number) {
  const deadline = Date.now() + 3_000;
  while (count() < n) {
    if (Date.now() > deadline) throw new Error(`waited for ${n}, got ${count()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next chunk as text; a stream that ends first fails the test instead of looping forever. */
async function readSome(reader: ReadableStreamDefaultReader<Uint8Array>) {
  const { done, value } = await reader.read();
  if (done) throw new Error('the stream ended early');
  return new TextDecoder().decode(value);
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('coalescing', () => {
  it('N concurrent identical requests make exactly one upstream call and all get the answer', async () => {
    const upstreamGate = gate();
    const { calls } = mockUpstream(async () => {
      await upstreamGate.opened;
      return jsonResponse(openaiChatCompletion(MODEL));
    });
    const joins = vi.spyOn(Flight.prototype, 'join');
    const env = await makeEnv();
    const body = question();
    const pending = Array.from({ length: 6 }, () => start(env, '/groq/v1/chat/completions', body));
    // Every request is waiting on the one call before the provider answers it.
    await until(() => joins.mock.calls.length, 6);
    await until(() => calls.length, 1);
    expect(calls).toHaveLength(1);
    upstreamGate.open();
    const answers = await Promise.all(pending);
    const texts = await Promise.all(answers.map((a) => a.res.text()));
    await Promise.all(answers.map((a) => a.done()));
    expect(calls).toHaveLength(1);
    for (const text of texts) expect(JSON.parse(text)).toEqual(openaiChatCompletion(MODEL));
    expect(answers.map((a) => a.res.status)).toEqual(Array(6).fill(200));
    expect(answers.map((a) => a.res.headers.get('x-switchyard-cache')).sort()).toEqual(['HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
  });

  it('a stream is fanned out as it arrives: a member joining mid-stream gets every byte from the start', async () => {
    const events = openaiChatStream(MODEL, ['Hel', 'lo', ' there', '!']);
    const upstream = controlledStream();
    const { calls } = mockUpstream(() => new Response(upstream.stream, { headers: { 'content-type': 'text/event-stream' } }));
    const env = await makeEnv();
    const body = question({ stream: true });

    upstream.push(events[0]!);
    const first = await start(env, '/groq/v1/chat/completions', body);
    const firstReader = first.res.body!.getReader();
    upstream.push(events[1]!);
    upstream.push(events[2]!);
    // The first member reads what has arrived so far while the stream is still open.
    let firstText = '';
    while (!firstText.includes('"lo"')) firstText += await readSome(firstReader);
    expect(firstText).toBe(events.slice(0, 3).join(''));

    // Joined while the answer is still streaming: not from the cache (nothing is stored before the end).
    const late = await Promise.all([start(env, '/groq/v1/chat/completions', body), start(env, '/groq/v1/chat/completions', body)]);
    expect(calls).toHaveLength(1);
    for (const member of late) expect(member.res.headers.get('x-switchyard-cache')).toBe('HIT');

    for (const event of events.slice(3)) upstream.push(event);
    upstream.close();
    for (;;) {
      const { done, value } = await firstReader.read();
      if (done) break;
      firstText += new TextDecoder().decode(value);
    }
    expect(firstText).toBe(events.join(''));
    for (const member of late) expect(await member.res.text()).toBe(events.join(''));
    await Promise.all([first.done(), ...late.map((m) => m.done())]);
    expect(calls).toHaveLength(1);
  });

  it('a member that leaves does not cut the others; when every member has gone the upstream call is aborted', async () => {
    const events = openaiChatStream(MODEL, ['Hel', 'lo']);
    const upstream = controlledStream();
    const signals: AbortSignal[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_, init) => {
      signals.push(init!.signal!);
      return new Response(upstream.stream, { headers: { 'content-type': 'text/event-stream' } });
    });
    const env = await makeEnv();
    const body = question({ stream: true });
    upstream.push(events[0]!);
    const a = await start(env, '/groq/v1/chat/completions', body);
    const b = await start(env, '/groq/v1/chat/completions', body);
    await a.res.body!.cancel();
    upstream.push(events[1]!);
    const reader = b.res.body!.getReader();
    let text = '';
    while (!text.includes('"Hel"')) text += await readSome(reader);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
    await reader.cancel();
    await until(() => Number(signals[0]!.aborted), 1);
  });

  it('a member whose client goes away (its request signal aborts) gets an end, not an error, and the others go on', async () => {
    // workerd logs a response body that errors as an uncaught exception; nobody reads it any more.
    const events = openaiChatStream(MODEL, ['Hel', 'lo']);
    const upstream = controlledStream();
    const signals: AbortSignal[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_, init) => {
      signals.push(init!.signal!);
      return new Response(upstream.stream, { headers: { 'content-type': 'text/event-stream' } });
    });
    const env = await makeEnv();
    const body = question({ stream: true });
    upstream.push(events[0]!);
    const clients = [new AbortController(), new AbortController()];
    const members = [await start(env, '/groq/v1/chat/completions', body, USER_KEY, clients[0]!.signal)];
    members.push(await start(env, '/groq/v1/chat/completions', body, USER_KEY, clients[1]!.signal));
    const [a, b] = members.map((member) => member.res.body!.getReader());
    for (const reader of [a!, b!]) await readSome(reader);
    const leaving = a!.read();
    clients[0]!.abort();
    upstream.push(events[1]!);
    expect((await leaving).done).toBe(true);
    expect(await readSome(b!)).toContain('"Hel"');
    expect(signals[0]!.aborted).toBe(false);
    const last = b!.read();
    clients[1]!.abort();
    expect((await last).done).toBe(true);
    await until(() => Number(signals[0]!.aborted), 1);
    await Promise.all(members.map((member) => member.done()));
  });

  it('an error answer is shared by the members in flight but not stored', async () => {
    const upstreamGate = gate();
    const { calls } = mockUpstream(async () => {
      await upstreamGate.opened;
      return openaiError(400, 'bad request', 'invalid_request_error', null);
    });
    const joins = vi.spyOn(Flight.prototype, 'join');
    const env = await makeEnv();
    const body = question();
    const pending = Array.from({ length: 3 }, () => start(env, '/groq/v1/chat/completions', body));
    await until(() => joins.mock.calls.length, 3);
    upstreamGate.open();
    const answers = await Promise.all(pending);
    for (const a of answers) expect(a.res.status).toBe(400);
    await Promise.all(answers.map((a) => a.done()));
    expect(calls).toHaveLength(1);
    const again = await start(env, '/groq/v1/chat/completions', body);
    expect(again.res.status).toBe(400);
    expect(calls).toHaveLength(2);
  });

  it('a thrown gateway error (no upstream answer in time) reaches every member', async () => {
    const upstreamGate = gate();
    const { calls } = mockUpstream(async () => {
      await upstreamGate.opened;
      throw new TypeError('network connection lost');
    });
    const joins = vi.spyOn(Flight.prototype, 'join');
    const env = await makeEnv({ vars: { MAX_ATTEMPTS: '1' } });
    const body = question();
    const pending = Array.from({ length: 3 }, () => start(env, '/groq/v1/chat/completions', body));
    await until(() => joins.mock.calls.length, 3);
    upstreamGate.open();
    const answers = await Promise.all(pending);
    for (const a of answers) {
      expect(a.res.status).toBe(502);
      expect((await a.res.json<{ error: { code: string } }>()).error.code).toBe('upstream_unreachable');
    }
    expect(calls).toHaveLength(1);
  });

  it('identical requests of two users are two calls (each user has their own entries)', async () => {
    const upstreamGate = gate();
    const { calls } = mockUpstream(async () => {
      await upstreamGate.opened;
      return jsonResponse(openaiChatCompletion(MODEL));
    });
    const env = await makeEnv({ users: { tester: { key: USER_KEY }, other: { key: OTHER_KEY } } });
    const body = question();
    const pending = [start(env, '/groq/v1/chat/completions', body), start(env, '/groq/v1/chat/completions', body, OTHER_KEY)];
    await until(() => calls.length, 2);
    upstreamGate.open();
    for (const a of await Promise.all(pending)) expect(a.res.headers.get('x-switchyard-cache')).toBe('MISS');
  });
});
