import Anthropic from '@anthropic-ai/sdk';
import { type Attributes, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS,
  GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT,
  GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  GEN_AI_PROVIDER_NAME_VALUE_GROQ,
} from '@opentelemetry/semantic-conventions/incubating';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordedRequest, startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';
import { type OtlpReceiver, startOtlpReceiver } from './harness/otlp-receiver';

// Traces end to end: the gateway in `wrangler dev` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
// OTLP/HTTP receiver on 127.0.0.1, the stand-in providers, the official SDKs as clients. What arrives
// is checked against the OpenTelemetry project's own packages: the attribute names and well-known
// values of @opentelemetry/semantic-conventions, and the OTLP JSON that @opentelemetry/otlp-transformer
// (the OpenTelemetry JS SDK's serializer) writes for a span with the usage record's values. Then a
// gateway without the endpoint sends nothing.

const TOKEN = 'e2e-traces-vault-token';
const COLLECTOR_KEY = 'e2e collector key=1';
const users = demoUsers();
const userKey = users.ronan.key;

type Json = Record<string, any>;

/** What one request of the test must become: the operation and provider names the conventions give it. */
interface Sent {
  id: string;
  operation: string;
  provider: string;
  /** The stand-in requests it made, in order: one per upstream attempt. */
  upstream: RecordedRequest[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function pricedVault(standInUrl: string) {
  const config = demoVault(standInUrl) as unknown as { providers: Record<string, { keys: { key: string }[]; models: Json[] }> };
  const price = (provider: string, model: string, prices: Json) =>
    Object.assign(
      config.providers[provider]!.models.find((m) => m.id === model)!,
      prices,
    );
  price('groq', 'llama-3.3-70b-versatile', { inputPrice: 0.59, outputPrice: 0.79 });
  price('groq', 'llama-3.1-8b-instant', { inputPrice: 0.05, outputPrice: 0.08 });
  price('anthropic', 'claude-sonnet-5', { inputPrice: 3, outputPrice: 15 });
  price('gemini', 'gemini-2.0-flash', { inputPrice: 0.1, outputPrice: 0.4 });
  return config;
}

const hrTime = (ms: number): [number, number] => [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];

/** Attribute arrays sorted by key: OTLP attributes are a map, written in any order. */
function sortedAttributes(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(sortedAttributes);
    return items.every((item) => typeof (item as Json)?.key === 'string' && 'value' in (item as Json))
      ? [...items].sort((a, b) => ((a as Json).key < (b as Json).key ? -1 : 1))
      : items;
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sortedAttributes(v)]));
  return value;
}

/** `switchyard.cost_usd` as a double where the SDK wrote a whole number as intValue. */
function costAsDouble(request: Json): Json {
  for (const span of request.resourceSpans.flatMap((r: Json) => r.scopeSpans.flatMap((s: Json) => s.spans))) {
    for (const attribute of span.attributes) {
      if (attribute.key === 'switchyard.cost_usd' && 'intValue' in attribute.value) attribute.value = { doubleValue: attribute.value.intValue };
    }
  }
  return request;
}

describe('traces (wrangler dev, OTLP/HTTP receiver on 127.0.0.1)', () => {
  let standIn: StandIn;
  let receiver: OtlpReceiver;
  let gateway: Gateway | undefined;
  let config: ReturnType<typeof pricedVault>;

  beforeAll(async () => {
    standIn = await startStandIn();
    receiver = await startOtlpReceiver();
    config = pricedVault(standIn.url);
  });
  afterAll(async () => {
    await gateway?.stop();
    await receiver?.close();
    await standIn?.close();
  });

  /** Run one client call and note the stand-in requests it made. */
  async function send(operation: string, provider: string, call: () => Promise<string>): Promise<Sent> {
    const before = standIn.requests.length;
    const id = await call();
    return { id, operation, provider, upstream: standIn.requests.slice(before) };
  }

  it('exports one span per request with the GenAI conventions, matching the usage records, attempts as events', async () => {
    const vaultText = await encryptWithOpenssl(JSON.stringify(config), TOKEN);
    gateway = await startGateway({
      vars: {
        AI_JSON_CRYPTOKEN: TOKEN,
        DEFAULT_RPM: '0',
        // A base endpoint with a path of its own: the traces path is appended to it.
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/otlp/`,
        OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${encodeURIComponent(COLLECTOR_KEY)},x-tenant=switchyard-e2e`,
      },
      users,
      vaultText,
    });
    const gw = gateway.url;
    const openai = new OpenAI({ apiKey: userKey, baseURL: `${gw}/groq/v1` });
    const unified = new OpenAI({ apiKey: userKey, baseURL: `${gw}/v1` });
    const anthropic = new Anthropic({ apiKey: userKey, baseURL: `${gw}/anthropic` });
    const messages = [{ role: 'user' as const, content: 'Tell me about switchyards' }];

    const sent: Sent[] = [];
    // The provider refuses the first attempt: the gateway replays it with the other key.
    standIn.addFault({ path: '/openai/v1/chat/completions', status: 429, times: 1 });
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_PROVIDER_NAME_VALUE_GROQ, async () => {
        const { response } = await openai.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages }).withResponse();
        return response.headers.get('x-request-id')!;
      }),
    );
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_PROVIDER_NAME_VALUE_GROQ, async () => {
        const { data, response } = await openai.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages, stream: true }).withResponse();
        for await (const _chunk of data);
        return response.headers.get('x-request-id')!;
      }),
    );
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC, async () => {
        const { response } = await anthropic.messages.create({ model: 'claude-sonnet-5', max_tokens: 256, messages }).withResponse();
        return response.headers.get('x-request-id')!;
      }),
    );
    // An OpenAI client, a Gemini model: the span is the call the gateway made, Gemini's generateContent.
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT, GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI, async () => {
        const { response } = await unified.chat.completions.create({ model: 'gemini/gemini-2.0-flash', messages }).withResponse();
        return response.headers.get('x-request-id')!;
      }),
    );
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS, GEN_AI_PROVIDER_NAME_VALUE_GROQ, async () => {
        const { response } = await openai.embeddings.create({ model: 'nomic-embed-text-v1.5', input: 'switchyard' }).withResponse();
        return response.headers.get('x-request-id')!;
      }),
    );
    // Every key of the provider fails: the client gets the error, the span says so.
    standIn.addFault({ model: 'llama-3.1-8b-instant', status: 503, times: Infinity });
    sent.push(
      await send(GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_PROVIDER_NAME_VALUE_GROQ, async () => {
        const res = await fetch(`${gw}/groq/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama-3.1-8b-instant', messages }),
        });
        expect(res.status).toBe(503);
        await res.arrayBuffer();
        return res.headers.get('x-request-id')!;
      }),
    );
    expect(sent[0]!.upstream.map((r) => r.fault?.status ?? 200)).toEqual([429, 200]);
    expect(sent[5]!.upstream.length).toBeGreaterThanOrEqual(1);

    // Spans arrive off the response path, batched: wait until every request has one.
    const traceIds = sent.map((s) => s.id.replaceAll('-', ''));
    const spansOf = (body: string): Json[] => JSON.parse(body).resourceSpans.flatMap((r: Json) => r.scopeSpans.flatMap((s: Json) => s.spans));
    await until('a span for every request', () => {
      const arrived = new Set(receiver.exports.flatMap((e) => spansOf(e.body).map((span) => span.traceId)));
      return traceIds.every((id) => arrived.has(id)) ? true : undefined;
    });
    // No span twice, none of another request.
    const allSpans = receiver.exports.flatMap((e) => spansOf(e.body));
    expect(allSpans.map((span) => span.traceId).sort()).toEqual([...traceIds].sort());

    for (const post of receiver.exports) {
      expect(post.path).toBe('/otlp/v1/traces');
      expect(post.headers['content-type']).toBe('application/json');
      expect(post.headers['x-collector-key']).toBe(COLLECTOR_KEY);
      expect(post.headers['x-tenant']).toBe('switchyard-e2e');
      // No provider key, no user key in what leaves for the collector.
      for (const provider of Object.values(config.providers)) for (const { key } of provider.keys) expect(post.body).not.toContain(key);
      expect(post.body).not.toContain(userKey);
    }

    // The usage records, as the user reads them.
    const records = new Map<string, Json>();
    for (const { id } of sent) {
      records.set(
        id,
        await until(`the record of ${id}`, async () => {
          const res = await fetch(`${gw}/v1/usage/requests/${id}`, { headers: { authorization: `Bearer ${userKey}` } });
          return res.status === 200 ? ((await res.json()) as Json) : undefined;
        }),
      );
    }

    /** The span the OpenTelemetry JS SDK would export for this request: built from its usage record and the stand-in's log. */
    const resource = { attributes: { 'service.name': 'switchyard' } };
    const expectedSpan = (received: Json) => {
      const request = sent.find((s) => s.id.replaceAll('-', '') === received.traceId)!;
      const record = records.get(request.id)!;
      const start = Date.parse(record.time);
      const attributes: Attributes = {
        [ATTR_GEN_AI_OPERATION_NAME]: request.operation,
        [ATTR_GEN_AI_PROVIDER_NAME]: request.provider,
        [ATTR_GEN_AI_REQUEST_MODEL]: record.model,
        [ATTR_GEN_AI_REQUEST_STREAM]: record.stream,
        [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: record.input_tokens,
        [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: record.output_tokens,
        ...(record.cached_input_tokens > 0 ? { [ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]: record.cached_input_tokens } : {}),
        ...(record.error_code !== null ? { [ATTR_ERROR_TYPE]: record.error_code } : {}),
        'switchyard.request_id': record.id,
        'switchyard.user_id': record.user_id,
        'switchyard.route': record.route,
        'switchyard.provider': record.provider,
        'switchyard.operation': record.operation,
        'switchyard.status': record.status,
        'switchyard.attempts': record.attempts,
        'switchyard.cache': record.cache,
        'switchyard.usage_source': record.usage_source,
        ...(record.cost_usd !== null ? { 'switchyard.cost_usd': record.cost_usd } : {}),
        ...(record.first_byte_ms !== null ? { 'switchyard.first_byte_ms': record.first_byte_ms } : {}),
      };
      // Each attempt as the stand-in saw it; only its start and duration come from the span itself.
      const events = request.upstream.map((upstream, i) => {
        const got = received.events[i];
        const duration = got?.attributes.find((a: Json) => a.key === 'switchyard.duration_ms')?.value.intValue;
        const status = upstream.fault?.status ?? 200;
        const eventMs = Number(BigInt(got?.timeUnixNano ?? '0') / 1_000_000n);
        expect(eventMs).toBeGreaterThanOrEqual(start);
        expect(eventMs + duration).toBeLessThanOrEqual(start + record.latency_ms);
        return {
          name: 'switchyard.upstream_attempt',
          time: hrTime(eventMs),
          attributes: {
            [ATTR_GEN_AI_PROVIDER_NAME]: request.provider,
            'switchyard.provider': record.provider,
            'switchyard.key_index': config.providers[record.provider]!.keys.findIndex((k) => k.key === upstream.key),
            'switchyard.status': status,
            ...(status >= 400 ? { [ATTR_ERROR_TYPE]: `http_${status}` } : {}),
            'switchyard.duration_ms': duration,
          },
          droppedAttributesCount: 0,
        };
      });
      return {
        name: `${request.operation} ${record.model}`,
        kind: SpanKind.CLIENT,
        spanContext: () => ({ traceId: received.traceId, spanId: received.spanId, traceFlags: TraceFlags.SAMPLED }),
        parentSpanContext: undefined,
        startTime: hrTime(start),
        endTime: hrTime(start + record.latency_ms),
        duration: hrTime(record.latency_ms),
        ended: true,
        status: record.error_code !== null ? { code: SpanStatusCode.ERROR, message: record.error_code } : { code: SpanStatusCode.UNSET },
        attributes,
        links: [],
        events,
        resource,
        instrumentationScope: { name: 'switchyard' },
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      };
    };

    for (const post of receiver.exports) {
      const received = JSON.parse(post.body) as Json;
      const expected = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spansOf(post.body).map(expectedSpan) as never)));
      // JavaScript has one number type: the SDK writes a whole cost (0) as intValue. The gateway types
      // the cost a double always, so a backend keeps one type for the attribute.
      expect(sortedAttributes(received)).toEqual(sortedAttributes(costAsDouble(expected)));
    }

    // The numbers an operator adds up in the tracing backend are the ones GET /v1/usage reports.
    const value = (span: Json, key: string) => span.attributes.find((a: Json) => a.key === key)?.value;
    const usage = (await (await fetch(`${gw}/v1/usage`, { headers: { authorization: `Bearer ${userKey}` } })).json()) as Json;
    expect(usage.requests).toBe(allSpans.length);
    expect(allSpans.reduce((sum, span) => sum + value(span, ATTR_GEN_AI_USAGE_INPUT_TOKENS).intValue, 0)).toBe(usage.input_tokens);
    expect(allSpans.reduce((sum, span) => sum + value(span, ATTR_GEN_AI_USAGE_OUTPUT_TOKENS).intValue, 0)).toBe(usage.output_tokens);
    expect(allSpans.reduce((sum, span) => sum + (value(span, 'switchyard.cost_usd')?.doubleValue ?? 0), 0)).toBeCloseTo(usage.cost_usd, 10);
    expect(allSpans.filter((span) => span.status.code === 2)).toHaveLength(usage.errors);
    expect(gateway.logs()).not.toContain(COLLECTOR_KEY);

    // Requests that end together share an export request.
    const posted = receiver.exports.length;
    const together = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const { response } = await openai.embeddings.create({ model: 'nomic-embed-text-v1.5', input: 'together' }).withResponse();
        return response.headers.get('x-request-id')!.replaceAll('-', '');
      }),
    );
    const carrying = () => receiver.exports.slice(posted).filter((e) => spansOf(e.body).some((span) => together.includes(span.traceId)));
    await until('the spans of the requests sent together', () =>
      carrying()
        .flatMap((e) => spansOf(e.body))
        .filter((span) => together.includes(span.traceId)).length === 4
        ? true
        : undefined,
    );
    expect(carrying().length).toBeLessThan(4);
  }, 180_000);

  it('sends nothing when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    await gateway?.stop();
    gateway = undefined;
    receiver.exports.length = 0;
    standIn.reset();
    const vaultText = await encryptWithOpenssl(JSON.stringify(config), TOKEN);
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0', OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=k' }, users, vaultText });
    const openai = new OpenAI({ apiKey: userKey, baseURL: `${gateway.url}/groq/v1` });
    standIn.addFault({ path: '/openai/v1/chat/completions', status: 429, times: 1 });
    const { response } = await openai.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    const id = response.headers.get('x-request-id')!;
    // Its record settles (the point where a span would be queued), and well past an export's delay, nothing arrives.
    await until('the record', async () =>
      (await fetch(`${gateway!.url}/v1/usage/requests/${id}`, { headers: { authorization: `Bearer ${userKey}` } })).status === 200 ? true : undefined,
    );
    await sleep(3_000);
    expect(receiver.exports).toEqual([]);
  }, 180_000);
});
