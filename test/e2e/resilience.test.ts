import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault, StandIn } from '../../dev/stand-ins/server';
import { startStandIn } from '../../dev/stand-ins/server';
import { encryptWithOpenssl, type Gateway, startGateway, uncaughtLines } from './harness/gateway';

// The resilience suite: the gateway in `wrangler dev` in front of the stand-in providers, which
// inject faults on chosen keys — 429 and 503 with Retry-After, 500, a slow first byte, a hang, a
// connection reset before or during the answer, invalid JSON, a revoked key. Every scenario leaves
// at least one usable key, so every request must still succeed: the suite counts requests sent,
// faults injected, requests recovered (a fault hit them and they still succeeded) and requests
// lost (must be 0). Streams cut after their first event cannot be replayed; they are counted apart
// and must end with a well-formed SSE error event.

const TOKEN = 'e2e-resilience-token';
const USER = 'sy-resilience-user';
const LIMITED_USER = 'sy-resilience-limited';
const GROQ_KEYS = ['gsk_res_key_1', 'gsk_res_key_2', 'gsk_res_key_3'];
const ANTHROPIC_KEYS = ['sk-ant-res-key-1', 'sk-ant-res-key-2'];
const GEMINI_KEYS = ['AIza-res-key-1', 'AIza-res-key-2'];
const FIRST_BYTE_MS = 1500;

type Kind = 'openai' | 'openai-stream' | 'anthropic' | 'anthropic-stream' | 'gemini' | 'gemini-stream';

interface Outcome {
  id: string;
  kind: Kind;
  ok: boolean;
  status: number;
  attempts: number;
  detail: string;
}

const figures = { sent: 0, injected: 0, recovered: 0, lost: 0, cutMidStream: 0, cutWellFormed: 0 };
const lostDetails: string[] = [];

let standIn: StandIn;
let gateway: Gateway;
let abortProbe: { server: Server; url: string; closedAt?: number; eventsWritten: number };
let serial = 0;

/**
 * The request id a recorded upstream call carries in its prompt (the gateway forwards only allow-listed
 * headers, so a correlation header never reaches the stand-in); undefined for the gateway's own calls
 * (a key check, GET models).
 */
const idOf = (recorded: { body: string }) => /\b((?:r|cut|limit)\d+)\b/.exec(recorded.body)?.[1];

const REQUESTS: Record<Kind, { path: string; body: (id: string) => unknown }> = {
  openai: {
    path: '/groq/v1/chat/completions',
    body: (id) => ({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: `resilience ${id}` }] }),
  },
  'openai-stream': {
    path: '/groq/v1/chat/completions',
    body: (id) => ({ model: 'llama-3.3-70b-versatile', stream: true, messages: [{ role: 'user', content: `resilience stream ${id} with a few more words` }] }),
  },
  anthropic: {
    path: '/anthropic/v1/messages',
    body: (id) => ({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: `resilience ${id}` }] }),
  },
  'anthropic-stream': {
    path: '/anthropic/v1/messages',
    body: (id) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      stream: true,
      messages: [{ role: 'user', content: `resilience stream ${id} with more words` }],
    }),
  },
  gemini: {
    path: '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
    body: (id) => ({ contents: [{ role: 'user', parts: [{ text: `resilience ${id}` }] }] }),
  },
  'gemini-stream': {
    path: '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
    body: (id) => ({ contents: [{ role: 'user', parts: [{ text: `resilience stream ${id} with more words` }] }] }),
  },
};

function sseBlocks(text: string): { event?: string; data: string }[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split(/\r?\n/);
      return {
        event: lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim(),
        data: lines
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n'),
      };
    });
}

/** Whether a body is a complete, well-formed answer of its dialect. */
function complete(kind: Kind, text: string): string | undefined {
  try {
    if (!kind.endsWith('-stream')) {
      const json = JSON.parse(text) as Record<string, any>;
      if (kind === 'openai') return json.choices?.[0]?.message?.content?.startsWith('Echo:') ? undefined : 'no completion';
      if (kind === 'anthropic') return json.content?.[0]?.text?.startsWith('Echo:') ? undefined : 'no message';
      return json.candidates?.[0]?.content?.parts?.[0]?.text?.startsWith('Echo:') ? undefined : 'no candidate';
    }
    const blocks = sseBlocks(text);
    const data = blocks.map((b) => (b.data === '[DONE]' ? b.data : JSON.parse(b.data)));
    if (blocks.some((b) => b.event === 'error') || data.some((d) => d !== '[DONE]' && 'error' in d)) return 'error event';
    if (kind === 'openai-stream') return data.at(-1) === '[DONE]' ? undefined : 'no [DONE]';
    if (kind === 'anthropic-stream') return blocks.at(-1)?.event === 'message_stop' ? undefined : 'no message_stop';
    return (data.at(-1) as any)?.candidates?.[0]?.finishReason ? undefined : 'no finishReason';
  } catch (err) {
    return `unreadable: ${String(err).slice(0, 80)}`;
  }
}

/** A stream cut mid-way must end with exactly one error event, after events that all parse. */
function endsWithWellFormedError(text: string): boolean {
  try {
    const blocks = sseBlocks(text);
    const last = blocks.at(-1);
    for (const b of blocks) if (b.data !== '[DONE]') JSON.parse(b.data);
    const isError = (b: { event?: string; data: string } | undefined) => !!b && (b.event === 'error' || 'error' in JSON.parse(b.data));
    return isError(last) && blocks.slice(0, -1).every((b) => !isError(b)) && text.endsWith('\n\n');
  } catch {
    return false;
  }
}

async function send(kind: Kind): Promise<Outcome> {
  const id = `r${serial++}`;
  const { path, body } = REQUESTS[kind];
  figures.sent++;
  try {
    const res = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json', 'x-e2e-id': id },
      body: JSON.stringify(body(id)),
    });
    const text = await res.text();
    const attempts = Number(res.headers.get('x-switchyard-attempts'));
    const problem = res.status === 200 ? complete(kind, text) : `HTTP ${res.status}: ${text.slice(0, 160)}`;
    return { id, kind, ok: problem === undefined, status: res.status, attempts, detail: problem ?? text };
  } catch (err) {
    return { id, kind, ok: false, status: 0, attempts: 0, detail: String(err) };
  }
}

/** Run requests a few at a time, then attribute the stand-in's injected faults to them. */
async function scenario(name: string, faults: Fault[], kinds: Kind[], concurrency = 3) {
  standIn.reset();
  for (const fault of faults) standIn.addFault(fault);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < kinds.length; i += concurrency) outcomes.push(...(await Promise.all(kinds.slice(i, i + concurrency).map(send))));
  const faulted = new Set(standIn.requests.filter((r) => r.fault).map(idOf));
  const injected = standIn.requests.filter((r) => r.fault).length;
  figures.injected += injected;
  for (const outcome of outcomes) {
    if (!outcome.ok) {
      figures.lost++;
      lostDetails.push(`${name} ${outcome.kind} ${outcome.id}: ${outcome.detail.slice(0, 200)}`);
    } else if (faulted.has(outcome.id)) {
      figures.recovered++;
      expect(outcome.attempts, `${name} ${outcome.id}`).toBeGreaterThan(1);
    }
  }
  return { outcomes, injected };
}

const MIX: Kind[] = ['openai', 'openai-stream', 'anthropic', 'anthropic-stream', 'gemini', 'gemini-stream'];
const times = (n: number, kinds: Kind[]) => Array.from({ length: n }, () => kinds).flat();

beforeAll(async () => {
  standIn = await startStandIn({ paceMs: 2 });
  // An upstream of our own that streams slowly and records when the gateway hangs up on it: OpenAI
  // chunks, Anthropic events under /anthropic, and under /garbled chunks the gateway cannot translate.
  abortProbe = { server: createServer(), url: '', eventsWritten: 0 };
  abortProbe.server.on('request', (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const anthropic = req.url!.startsWith('/anthropic/');
    const chunk = req.url!.startsWith('/garbled/')
      ? { id: 'slow', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'tick ' } }] }
      : { id: 'slow', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'slow-1', choices: [{ index: 0, delta: { content: 'tick ' } }] };
    if (anthropic) {
      const message = { id: 'msg_slow', type: 'message', role: 'assistant', model: 'slow-a', content: [], usage: { input_tokens: 5, output_tokens: 1 } };
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message })}\n\n`);
      const block = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
      res.write(`event: content_block_start\ndata: ${JSON.stringify(block)}\n\n`);
    }
    const timer = setInterval(() => {
      abortProbe.eventsWritten++;
      if (anthropic) {
        const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tick ' } };
        res.write(`event: content_block_delta\ndata: ${JSON.stringify(delta)}\n\n`);
      } else res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      if (abortProbe.eventsWritten >= 200) {
        clearInterval(timer);
        res.end('data: [DONE]\n\n');
      }
    }, 50);
    res.on('close', () => {
      clearInterval(timer);
      abortProbe.closedAt = Date.now();
    });
  });
  await new Promise<void>((resolve) => abortProbe.server.listen(0, '127.0.0.1', resolve));
  abortProbe.url = `http://127.0.0.1:${(abortProbe.server.address() as AddressInfo).port}`;

  const keys = (list: string[]) => list.map((key) => ({ key, type: 'paid' }));
  const vault = {
    version: 1,
    providers: {
      groq: { protocol: 'openai', endpoint: `${standIn.url}/openai/v1`, keys: keys(GROQ_KEYS), models: [{ id: 'llama-3.3-70b-versatile', usage: 'chat' }] },
      anthropic: {
        protocol: 'anthropic',
        endpoint: `${standIn.url}/anthropic/v1`,
        keys: keys(ANTHROPIC_KEYS),
        models: [{ id: 'claude-sonnet-4-5', usage: 'chat' }],
      },
      gemini: { protocol: 'gemini', endpoint: `${standIn.url}/gemini/v1beta`, keys: keys(GEMINI_KEYS), models: [{ id: 'gemini-2.0-flash', usage: 'chat' }] },
      slowpoke: { protocol: 'openai', endpoint: `${abortProbe.url}/v1`, keys: keys(['slowpoke-key']), models: [{ id: 'slow-1', usage: 'chat' }] },
      slowant: { protocol: 'anthropic', endpoint: `${abortProbe.url}/anthropic/v1`, keys: keys(['slowant-key']), models: [{ id: 'slow-a', usage: 'chat' }] },
      garbled: { protocol: 'openai', endpoint: `${abortProbe.url}/garbled/v1`, keys: keys(['garbled-key']), models: [{ id: 'slow-1', usage: 'chat' }] },
    },
  };
  gateway = await startGateway({
    vars: {
      AI_JSON_CRYPTOKEN: TOKEN,
      DEFAULT_RPM: '0',
      MAX_ATTEMPTS: '3',
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: String(FIRST_BYTE_MS),
      UPSTREAM_IDLE_TIMEOUT_MS: String(FIRST_BYTE_MS),
      UPSTREAM_DEADLINE_MS: '20000',
    },
    users: { resilience: { key: USER }, limited: { key: LIMITED_USER, rpm: 10 } },
    vaultText: await encryptWithOpenssl(JSON.stringify(vault), TOKEN),
  });
}, 120_000);

afterAll(async () => {
  console.log(
    `resilience: sent ${figures.sent}, faults injected ${figures.injected}, recovered ${figures.recovered}, lost ${figures.lost}` +
      `; streams cut after their first event ${figures.cutMidStream} (ended with a well-formed SSE error event: ${figures.cutWellFormed})`,
  );
  if (lostDetails.length) console.log(`lost:\n${lostDetails.join('\n')}`);
  await gateway?.stop();
  await standIn?.close();
  await new Promise<void>((resolve) => abortProbe?.server.close(() => resolve()));
});

describe('resilience against faulty providers (wrangler dev + stand-ins)', () => {
  it('429 with Retry-After on one key: replayed on another, the key rests', async () => {
    const { injected } = await scenario(
      '429',
      [
        { key: GROQ_KEYS[0], status: 429, retryAfter: 1, times: 4 },
        { key: ANTHROPIC_KEYS[0], status: 429, retryAfter: 1, times: 4 },
        { key: GEMINI_KEYS[0], status: 429, retryAfter: 1, times: 4 },
      ],
      times(3, MIX),
    );
    expect(injected).toBeGreaterThanOrEqual(3);
    // Resting keys are skipped: each faulted key is hit about once, not on every request.
    for (const key of [GROQ_KEYS[0], ANTHROPIC_KEYS[0], GEMINI_KEYS[0]]) {
      expect(standIn.requests.filter((r) => r.key === key && r.fault).length).toBeLessThanOrEqual(2);
    }
  });

  it('500 and 503 + Retry-After on some keys', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { injected } = await scenario(
      '5xx',
      [
        { key: GROQ_KEYS[1], status: 500, times: 3 },
        { key: GROQ_KEYS[2], status: 503, retryAfter: 2, times: 3 },
        { key: ANTHROPIC_KEYS[1], status: 500, times: 3 },
        { key: GEMINI_KEYS[1], status: 503, retryAfter: 2, times: 3 },
      ],
      times(2, MIX),
    );
    expect(injected).toBeGreaterThanOrEqual(3);
  });

  it('a slow first byte and a hang: the attempt times out and another key answers', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const started = Date.now();
    const { injected } = await scenario(
      'slow',
      [
        { key: GROQ_KEYS[0], delayFirstByteMs: FIRST_BYTE_MS * 3, times: 2 },
        { key: GROQ_KEYS[1], hang: true, times: 2 },
        { key: ANTHROPIC_KEYS[0], hang: true, times: 1 },
        { key: GEMINI_KEYS[0], delayFirstByteMs: FIRST_BYTE_MS * 3, times: 1 },
      ],
      times(1, MIX),
    );
    expect(injected).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('connection reset before the first event, and invalid JSON (whole bodies and first events)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { injected } = await scenario(
      'reset+json',
      [
        { key: GROQ_KEYS[2], resetAfterChunks: 0, times: 3 },
        { key: GROQ_KEYS[0], invalidJson: true, times: 3 },
        { key: ANTHROPIC_KEYS[1], invalidJson: true, times: 2 },
        { key: ANTHROPIC_KEYS[1], resetAfterChunks: 0, times: 2 },
        { key: GEMINI_KEYS[1], invalidJson: true, times: 2 },
      ],
      times(3, MIX),
    );
    expect(injected).toBeGreaterThanOrEqual(4);
  });

  it('a key that fails every time (500): probed again after each backoff, never costing a request', async () => {
    const { injected, outcomes } = await scenario(
      'flapping',
      [
        { key: GROQ_KEYS[1], status: 500, times: Infinity },
        { key: ANTHROPIC_KEYS[0], status: 502, times: Infinity },
        { key: GEMINI_KEYS[1], status: 500, times: Infinity },
      ],
      times(5, MIX),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(injected).toBeGreaterThanOrEqual(3);
    // Backoff: the failing keys take far fewer requests than their round-robin share.
    expect(injected).toBeLessThan(outcomes.length / 2);
  }, 60_000);

  it('a revoked key: every request still succeeds, and the key is tried about once', async () => {
    standIn.reset();
    standIn.revokeKey(GROQ_KEYS[1]!);
    standIn.revokeKey(ANTHROPIC_KEYS[1]!);
    const outcomes: Outcome[] = [];
    for (const kind of times(3, ['openai', 'openai-stream', 'anthropic', 'anthropic-stream'])) outcomes.push(await send(kind));
    const refused = standIn.requests.filter((r) => r.key === GROQ_KEYS[1] || r.key === ANTHROPIC_KEYS[1]);
    figures.injected += refused.length;
    const hit = new Set(refused.map(idOf));
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        figures.lost++;
        lostDetails.push(`revoked ${outcome.kind} ${outcome.id}: ${outcome.detail.slice(0, 200)}`);
      } else if (hit.has(outcome.id)) figures.recovered++;
    }
    expect(refused.length).toBeLessThanOrEqual(2);
  });

  it('a stream cut after its first events ends with one well-formed SSE error event', async () => {
    standIn.reset();
    for (const [kind, key] of [
      ['openai-stream', GROQ_KEYS[0]],
      ['anthropic-stream', ANTHROPIC_KEYS[0]],
      ['gemini-stream', GEMINI_KEYS[0]],
    ] as const) {
      for (const k of kind === 'openai-stream' ? GROQ_KEYS : kind === 'anthropic-stream' ? ANTHROPIC_KEYS : GEMINI_KEYS) {
        standIn.addFault({ key: k, resetAfterChunks: 2, times: 1 });
      }
      const id = `cut${serial++}`;
      const res = await fetch(`${gateway.url}${REQUESTS[kind].path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json', 'x-e2e-id': id },
        body: JSON.stringify(REQUESTS[kind].body(id)),
      });
      const text = await res.text();
      figures.cutMidStream++;
      expect(res.status).toBe(200);
      expect(endsWithWellFormedError(text), text).toBe(true);
      if (kind === 'anthropic-stream') expect(sseBlocks(text).at(-1)!.event).toBe('error');
      figures.cutWellFormed++;
      void key;
    }
    await gateway.waitForLog(/stream_failed/);
  });

  it('a client that goes away mid-stream makes the gateway hang up on the upstream', async () => {
    const client = new AbortController();
    const res = await fetch(`${gateway.url}/slowpoke/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow-1', stream: true, messages: [{ role: 'user', content: 'count slowly' }] }),
      signal: client.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    const leftAt = Date.now();
    client.abort();
    for (let i = 0; i < 40 && abortProbe.closedAt === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(abortProbe.closedAt, 'the upstream connection stayed open').toBeDefined();
    expect(abortProbe.closedAt! - leftAt).toBeLessThan(4_000);
    expect(abortProbe.eventsWritten).toBeLessThan(150);
  });

  it.each([
    [
      'a translated stream (/v1/messages)',
      '/v1/messages',
      { model: 'slowpoke/slow-1', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'count' }] },
      {},
    ],
    ['a Responses stream (/v1/responses)', '/v1/responses', { model: 'slowpoke/slow-1', stream: true, input: 'count' }, {}],
    [
      'a translated stream (/v1/chat/completions)',
      '/v1/chat/completions',
      { model: 'slowant/slow-a', stream: true, messages: [{ role: 'user', content: 'count' }] },
      {},
    ],
    [
      'a cached stream shared by coalescing',
      '/slowpoke/v1/chat/completions',
      { model: 'slow-1', stream: true, messages: [{ role: 'user', content: 'count, cached' }] },
      { 'x-switchyard-cache-ttl': '60' },
    ],
  ])('a client that leaves %s mid-stream: the upstream is stopped and nothing is logged as uncaught', async (_, path, body, extra) => {
    abortProbe.closedAt = undefined;
    abortProbe.eventsWritten = 0;
    const client = new AbortController();
    const res = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json', ...extra },
      body: JSON.stringify(body),
      signal: client.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    // The answer is flowing (a stream the gateway could not translate would end instead) when the client leaves.
    for (let text = ''; !text.includes('tick');) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended before the client left: ${text}`);
      text += new TextDecoder().decode(value);
    }
    const leftAt = Date.now();
    client.abort();
    for (let i = 0; i < 40 && abortProbe.closedAt === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(abortProbe.closedAt, 'the upstream connection stayed open').toBeDefined();
    expect(abortProbe.closedAt! - leftAt).toBeLessThan(1_000);
    // The gateway's settle and logs of that request come after the abort: give them a moment before the scan.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(uncaughtLines(gateway.logs())).toEqual([]);
  });

  it('a translated stream whose events the gateway cannot read ends with one error event, and the upstream is stopped', async () => {
    abortProbe.closedAt = undefined;
    abortProbe.eventsWritten = 0;
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'garbled/slow-1', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'count' }] }),
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(200);
    const blocks = sseBlocks(await res.text());
    expect(blocks.map((block) => block.event)).toEqual(['error']);
    for (let i = 0; i < 20 && abortProbe.closedAt === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(abortProbe.closedAt, 'the upstream connection stayed open').toBeDefined();
    expect(abortProbe.eventsWritten).toBeLessThan(20);
  });

  it('rate limit in the Durable Object: of 50 simultaneous requests with rpm 10, exactly 10 pass', async () => {
    standIn.reset();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${gateway.url}/groq/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${LIMITED_USER}`, 'content-type': 'application/json', 'x-e2e-id': `limit${i}` },
          body: JSON.stringify(REQUESTS.openai.body(`limit${i}`)),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    for (const res of responses) {
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await res.arrayBuffer();
    }
    // Refused requests never reached a provider.
    expect(new Set(standIn.requests.map(idOf)).size).toBe(10);
  });

  it('lost nothing while a usable key remained', () => {
    expect(lostDetails).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.recovered).toBeGreaterThan(10);
  });

  // Last: it locks this client's address out of this gateway for AUTH_FAILURE_WINDOW_S.
  it('failed logins from one address: 401 up to AUTH_FAILURE_LIMIT, then 429 even for the right key', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${gateway.url}/v1/providers`, { headers: { authorization: `Bearer guess-${i}` } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual(Array(10).fill(401));
    const right = await fetch(`${gateway.url}/v1/providers`, { headers: { authorization: `Bearer ${USER}` } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await right.json()).toMatchObject({ error: { code: 'auth_rate_limited' } });
  });
});
