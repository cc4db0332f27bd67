import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandIn, startStandIn } from '../../dev/stand-ins/server';
import { encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// Routing on live signals, in wrangler dev against stand-ins that tell their rate limits in the real
// headers and whose latency drifts on demand (README, "Routing"). The signal windows are shortened
// (SIGNAL_WINDOW_MS 1 s, SIGNAL_FLUSH_MS 200 ms) so that what takes a minute with the defaults takes seconds.

const TOKEN = 'e2e-routing-token';
const USER_KEY = 'sy-routing-user-key-0123456789abcdef';
const MODEL = 'llama-3.3-70b-versatile';

// Two keys per provider: a small one (1 500 tokens a minute) and a big one. `told` reports its limits
// in x-ratelimit-* headers; `blind` enforces the same limits and reports nothing.
const TOLD = { small: 'gsk_told_small', big: 'gsk_told_big' };
const BLIND = { small: 'gsk_blind_small', big: 'gsk_blind_big' };
const SMALL_TOKENS = 1_500;

let standIn: StandIn;
let gateway: Gateway;

const figures: Record<string, unknown> = {};

function vault(url: string) {
  const provider = (keys: string[], models: object[]) => ({ protocol: 'openai', endpoint: `${url}/openai/v1`, keys: keys.map((key) => ({ key })), models });
  return {
    version: 1,
    providers: {
      told: provider([TOLD.small, TOLD.big], [{ id: MODEL, usage: 'chat' }]),
      blind: provider([BLIND.small, BLIND.big], [{ id: MODEL, usage: 'chat' }]),
      'lat-a': provider(['lat-key-a'], [{ id: 'lat-model', usage: 'chat', priority: 1 }]),
      'lat-b': provider(['lat-key-b'], [{ id: 'lat-model', usage: 'chat', priority: 1 }]),
      'split-a': provider(['split-key-a'], [{ id: 'split-model', usage: 'chat' }]),
      'split-b': provider(['split-key-b'], [{ id: 'split-model', usage: 'chat' }]),
    },
    routes: {
      'lat-model': { routing: 'latency' },
      'split-model': { routing: 'weighted', weights: { 'split-a': 90, 'split-b': 10 } },
    },
  };
}

beforeAll(async () => {
  standIn = await startStandIn();
  gateway = await startGateway({
    vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0', SIGNAL_WINDOW_MS: '1000', SIGNAL_FLUSH_MS: '200' },
    users: { router: { key: USER_KEY } },
    vaultText: await encryptWithOpenssl(JSON.stringify(vault(standIn.url)), TOKEN),
  });
});

afterAll(async () => {
  console.log(`routing figures: ${JSON.stringify(figures)}`);
  await gateway?.stop();
  await standIn?.close();
});

const chat = (path: string, model: string, text: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content: text }] }),
  });

/** The same load on a provider: `count` requests, `concurrency` at a time; every one must succeed. */
async function load(provider: string, count: number, concurrency: number) {
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = String(next++).padStart(4, '0');
        const res = await chat(`/${provider}/v1/chat/completions`, MODEL, `headroom load request ${id}`);
        await res.text();
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

const onKey = (key: string) => standIn.requests.filter((r) => r.key === key);

describe('key choice by headroom', () => {
  it('moves requests off a key before it is refused: 0 refusals where round-robin had some, same load', async () => {
    for (const keys of [TOLD, BLIND]) {
      standIn.setKeyLimit({ key: keys.small, tokens: SMALL_TOKENS, windowMs: 60_000, headers: keys === TOLD });
      standIn.setKeyLimit({ key: keys.big, tokens: 1_000_000, windowMs: 60_000, headers: keys === TOLD });
    }
    const blind = await load('blind', 30, 3);
    const told = await load('told', 30, 3);
    expect(blind.every((s) => s === 200)).toBe(true);
    expect(told.every((s) => s === 200)).toBe(true);

    const refusals = (key: string) => onKey(key).filter((r) => r.refused).length;
    figures.headroom = {
      roundRobin: { smallKeyRequests: onKey(BLIND.small).length, refusals: refusals(BLIND.small) },
      byHeadroom: { smallKeyRequests: onKey(TOLD.small).length, refusals: refusals(TOLD.small) },
    };
    expect(refusals(BLIND.small)).toBeGreaterThan(0);
    expect(refusals(TOLD.small)).toBe(0);
    // The small key was used while it had room, not avoided altogether.
    expect(onKey(TOLD.small).length).toBeGreaterThanOrEqual(5);
  });
});

describe('latency routing', () => {
  /** Sequential requests until `provider` answered `streak` in a row; the time it took. */
  async function until(provider: string, streak: number, limitMs: number) {
    const start = Date.now();
    let run = 0;
    const seen: string[] = [];
    while (Date.now() - start < limitMs) {
      const res = await chat('/v1/chat/completions', 'lat-model', `latency probe ${seen.length}`);
      expect(res.status).toBe(200);
      await res.text();
      const served = res.headers.get('x-switchyard-provider')!;
      seen.push(`${served} ${res.headers.get('x-switchyard-route')}`);
      run = served === provider ? run + 1 : 0;
      if (run >= streak) return { ms: Date.now() - start, requests: seen.length, seen };
    }
    throw new Error(`traffic did not move to ${provider} within ${limitMs} ms: ${seen.slice(-10).join('; ')}`);
  }

  const slow = (key: string) => ({ key, delayFirstByteMs: 400, times: Infinity });

  it('moves traffic to the faster provider when latency changes, and says why', async () => {
    standIn.faults.length = 0;
    standIn.addFault(slow('lat-key-a'));
    const first = await until('lat-b', 10, 30_000);
    expect(first.seen.at(-1)).toMatch(/^lat-b latency ttfb=\d+ms$/);

    // The drift: lat-b slows down, lat-a recovers.
    standIn.faults.length = 0;
    standIn.addFault(slow('lat-key-b'));
    const second = await until('lat-a', 10, 60_000);
    figures.latency = { switchToB: { ms: first.ms, requests: first.requests }, switchBackToA: { ms: second.ms, requests: second.requests } };
    expect(second.ms).toBeLessThan(60_000);
    standIn.faults.length = 0;
  });
});

describe('weighted routing', () => {
  it('splits 90/10 by request id, and a retry of one request id stays on its provider', async () => {
    const served: Record<string, number> = { 'split-a': 0, 'split-b': 0 };
    for (let i = 0; i < 300; i++) {
      const res = await chat('/v1/chat/completions', 'split-model', 'split', { 'x-request-id': `e2e-split-${i}` });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchyard-route')).toBe('weighted 90/10');
      await res.text();
      served[res.headers.get('x-switchyard-provider')!]!++;
    }
    figures.weighted = served;
    expect(served['split-a']! / 300).toBeGreaterThan(0.85);
    expect(served['split-a']! / 300).toBeLessThan(0.95);

    const replays = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await chat('/v1/chat/completions', 'split-model', 'split retry', { 'x-request-id': 'e2e-split-retry' });
      await res.text();
      replays.add(res.headers.get('x-switchyard-provider')!);
    }
    expect(replays.size).toBe(1);
  });
});
