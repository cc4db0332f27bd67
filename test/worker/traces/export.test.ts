import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import type { KeyValue, OtlpSpan } from '../../../src/traces/otlp';
import { traceRequest } from '../../../src/traces/exporter';
import { ATTEMPT_EVENT } from '../../../src/traces/span';
import type { UsageRecord } from '../../../src/usage/record';
import { makeEnv, userHeaders } from '../helpers/env';
import { completion, faultyUpstream, freshKeys, openaiError, type UpstreamCall } from '../helpers/upstreams';

// Trace export through the whole app in workerd: spans leave in one batch after the answers, with the
// attempts as events and the usage records' numbers; the headers come from OTEL_EXPORTER_OTLP_HEADERS;
// a collector that fails costs a log line and nothing else; without an endpoint nothing is sent.

afterEach(() => vi.restoreAllMocks());

const COLLECTOR = 'https://collector.example/otlp';
const TRACES_URL = `${COLLECTOR}/v1/traces`;
const PRICES = { inputPrice: 0.59, outputPrice: 0.79 };

let serial = 0;

/** A user of its own and a vault whose groq provider has two fresh keys and a priced model. */
async function tracedEnv(vars: Partial<Bindings>) {
  const name = `tracer-${Date.now().toString(36)}-${serial++}`;
  const keys = freshKeys('gsk-trace', 2);
  const config = {
    version: 1,
    providers: {
      groq: {
        protocol: 'openai',
        endpoint: 'https://api.groq.com/openai/v1',
        keys: keys.map((key) => ({ key, type: 'paid' })),
        models: [{ id: 'llama-3.3-70b-versatile', usage: 'chat', ...PRICES }],
      },
    },
  };
  const userKey = `key-${name}`;
  const env = await makeEnv({ config, users: { [name]: { key: userKey } }, vars });
  return { env, name, keys, userKey };
}

/** The provider (the first call refused with 429 when `refuseFirst`) and the collector (`collector` answers it). */
function upstream(options: { refuseFirst?: boolean; collector?: (call: UpstreamCall) => Response | Promise<Response> } = {}) {
  let providerCalls = 0;
  return faultyUpstream((call) => {
    if (call.url.startsWith(COLLECTOR)) return options.collector ? options.collector(call) : Response.json({});
    if (providerCalls++ === 0 && options.refuseFirst) return openaiError(429, { 'retry-after': '1' }, 'Rate limit reached');
    return Response.json(completion());
  });
}

async function chat(env: Bindings, userKey: string): Promise<{ id: string; status: number }> {
  const ctx = createExecutionContext();
  const res = await app.request(
    '/groq/v1/chat/completions',
    { method: 'POST', headers: userHeaders(userKey), body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hi' }] }) },
    env,
    ctx,
  );
  await res.text();
  await waitOnExecutionContext(ctx);
  return { id: res.headers.get('x-request-id')!, status: res.status };
}

const recordOf = async (name: string, id: string): Promise<UsageRecord> => {
  const meter = testEnv.USER_METER.get(testEnv.USER_METER.idFromName(`user:${name}`));
  const [record] = await meter.pendingRecords(id);
  return record!;
};

const spansOf = (call: UpstreamCall): OtlpSpan[] => JSON.parse(new TextDecoder().decode(call.body)).resourceSpans[0].scopeSpans[0].spans;
const valueOf = (attributes: KeyValue[], key: string) => attributes.find((a) => a.key === key)?.value;

describe('trace export', () => {
  it('sends one batch for requests that end together, each span matching its usage record, attempts as events', async () => {
    const { env, name, keys, userKey } = await tracedEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${COLLECTOR}/` });
    const calls = upstream({ refuseFirst: true });
    const [first, second] = await Promise.all([chat(env, userKey), chat(env, userKey)]);
    expect([first.status, second.status]).toEqual([200, 200]);

    const exports = calls.filter((call) => call.url.startsWith(COLLECTOR));
    expect(exports.map((call) => call.url)).toEqual([TRACES_URL]);
    expect(exports[0]!.headers.get('content-type')).toBe('application/json');
    const spans = spansOf(exports[0]!);
    expect(spans).toHaveLength(2);

    const providerCalls = calls.filter((call) => call.url.startsWith('https://api.groq.com/'));
    for (const { id } of [first, second]) {
      const record = await recordOf(name, id);
      const span = spans.find((s) => s.traceId === id.replaceAll('-', ''))!;
      expect(span, `the span of ${id}`).toBeDefined();
      expect(span.name).toBe(`chat ${record.model}`);
      expect(valueOf(span.attributes, 'switchyard.request_id')).toEqual({ stringValue: record.id });
      expect(valueOf(span.attributes, 'switchyard.user_id')).toEqual({ stringValue: record.user_id });
      expect(valueOf(span.attributes, 'gen_ai.usage.input_tokens')).toEqual({ intValue: record.input_tokens });
      expect(valueOf(span.attributes, 'gen_ai.usage.output_tokens')).toEqual({ intValue: record.output_tokens });
      expect(valueOf(span.attributes, 'switchyard.cost_usd')).toEqual({ doubleValue: record.cost_usd });
      expect(record.cost_usd).toBeCloseTo((3 * 0.59 + 2 * 0.79) / 1e6, 15);
      expect(valueOf(span.attributes, 'switchyard.attempts')).toEqual({ intValue: record.attempts });
      expect(span.startTimeUnixNano).toBe(`${Date.parse(record.time)}000000`);
      expect(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)).toBe(BigInt(record.latency_ms) * 1_000_000n);
      expect(span.events).toHaveLength(record.attempts);
      expect(span.events.every((event) => event.name === ATTEMPT_EVENT)).toBe(true);
    }

    // The refused attempt and its replay: the key's place in the vault, never the key itself.
    const retried = spans.find((span) => span.events.length === 2)!;
    expect(retried).toBeDefined();
    const [refused, answered] = retried.events;
    expect(valueOf(refused!.attributes, 'switchyard.status')).toEqual({ intValue: 429 });
    expect(valueOf(refused!.attributes, 'error.type')).toEqual({ stringValue: 'http_429' });
    expect(valueOf(answered!.attributes, 'switchyard.status')).toEqual({ intValue: 200 });
    expect(valueOf(answered!.attributes, 'error.type')).toBeUndefined();
    const indexes = retried.events.map((event) => (valueOf(event.attributes, 'switchyard.key_index') as { intValue: number }).intValue);
    expect(new Set(indexes).size).toBe(2);
    expect(indexes.every((index) => index === 0 || index === 1)).toBe(true);
    // Each event names the key the provider saw on that attempt.
    expect(providerCalls[0]!.key).toBe(keys[indexes[0]!]);
    const body = new TextDecoder().decode(exports[0]!.body);
    for (const key of keys) expect(body).not.toContain(key);
    expect(body).not.toContain(userKey);
  });

  it('sends the headers of OTEL_EXPORTER_OTLP_HEADERS (percent-decoded) and skips a malformed entry, naming only its place', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { env, userKey } = await tracedEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=abc%20123%3D, Authorization=Basic dXNlcjpwYXNz ,not-a-pair-secret-ish,x-tenant=acme',
      OTEL_SERVICE_NAME: 'switchyard-eu',
    });
    const calls = upstream();
    await chat(env, userKey);
    const [exported] = calls.filter((call) => call.url.startsWith(COLLECTOR));
    expect(exported!.headers.get('x-honeycomb-team')).toBe('abc 123=');
    expect(exported!.headers.get('authorization')).toBe('Basic dXNlcjpwYXNz');
    expect(exported!.headers.get('x-tenant')).toBe('acme');
    expect(exported!.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(new TextDecoder().decode(exported!.body)).resourceSpans[0].resource.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'switchyard-eu' } },
    ]);
    const logged = errors.mock.calls.map((args) => String(args[0])).filter((line) => line.includes('traces_settings_invalid'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('entry 3 is not name=value');
    expect(logged[0]).not.toContain('secret-ish');
  });

  it('drops a batch the collector refuses with one log line; the answer and the usage record are untouched', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { env, name, userKey } = await tracedEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR });
    const calls = upstream({ collector: () => new Response('unavailable', { status: 503 }) });
    const { id, status } = await chat(env, userKey);
    expect(status).toBe(200);
    expect((await recordOf(name, id)).status).toBe(200);
    expect(calls.filter((call) => call.url.startsWith(COLLECTOR))).toHaveLength(1);
    const dropped = errors.mock.calls.map((args) => JSON.parse(String(args[0]))).filter((line) => line.event === 'traces_dropped');
    expect(dropped).toEqual([{ level: 'error', event: 'traces_dropped', spans: 1, reason: 'http_503' }]);
  });

  it('drops a batch when the collector cannot be reached, with one log line', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { env, userKey } = await tracedEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR });
    upstream({
      collector: () => {
        throw new TypeError('connection refused');
      },
    });
    expect((await chat(env, userKey)).status).toBe(200);
    const dropped = errors.mock.calls.map((args) => JSON.parse(String(args[0]))).filter((line) => line.event === 'traces_dropped');
    expect(dropped).toEqual([{ level: 'error', event: 'traces_dropped', spans: 1, reason: 'network_TypeError' }]);
  });

  it('asks fetch not to follow a redirect: the collector’s headers go to the endpoint only', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { env, userKey } = await tracedEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k' });
    const redirects: (RequestRedirect | undefined)[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (!url.startsWith(COLLECTOR)) return Response.json(completion());
      redirects.push(init?.redirect);
      return new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/v1/traces' } });
    });
    await chat(env, userKey);
    expect(redirects).toEqual(['manual']);
  });

  it('sends nothing without OTEL_EXPORTER_OTLP_ENDPOINT, and nothing to an endpoint in clear text', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    for (const vars of [
      {},
      { OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k' },
    ]) {
      const { env, userKey } = await tracedEnv(vars);
      const calls = upstream({ refuseFirst: true });
      expect((await chat(env, userKey)).status).toBe(200);
      expect(calls.map((call) => new URL(call.url).host)).toEqual(['api.groq.com', 'api.groq.com']);
    }
    const invalid = errors.mock.calls.map((args) => String(args[0])).filter((line) => line.includes('traces_settings_invalid'));
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toContain('OTEL_EXPORTER_OTLP_ENDPOINT must be https');
  });

  it('holds at most 2 048 spans, posts them 512 at a time, and counts the ones it dropped in one log line', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const calls = upstream();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR } as Bindings;
    const record: UsageRecord = {
      ...{ id: '', client_request_id: null, time: new Date().toISOString(), user_id: 'u', user: 'u', route: 'proxy', operation: 'embeddings' },
      ...{ provider: 'groq', model: 'm', status: 200, stream: false, attempts: 1, input_tokens: 1, output_tokens: 0, cached_input_tokens: 0 },
      ...{ usage_source: 'provider', cost_usd: null, latency_ms: 5, first_byte_ms: 4, cache: 'none', error_code: null, saved_usd: null },
    };
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 2_050; i++) traceRequest(env, { ...record, id: crypto.randomUUID() }, [], (flush) => flushes.push(flush));
    expect(flushes).toHaveLength(1);
    await Promise.all(flushes);
    expect(calls.map((call) => spansOf(call).length)).toEqual([512, 512, 512, 512]);
    const dropped = errors.mock.calls.map((args) => JSON.parse(String(args[0]))).filter((line) => line.event === 'traces_dropped');
    expect(dropped).toEqual([{ level: 'error', event: 'traces_dropped', spans: 2, reason: 'queue_full' }]);
  });
});
