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
  GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION,
  GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  GEN_AI_PROVIDER_NAME_VALUE_GROQ,
  GEN_AI_PROVIDER_NAME_VALUE_MISTRAL_AI,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
} from '@opentelemetry/semantic-conventions/incubating';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { describe, expect, it } from 'vitest';
import { exportRequest, type KeyValue } from '../../../src/traces/otlp';
import { operationName, providerName } from '../../../src/traces/semconv';
import { ATTEMPT_EVENT, requestSpan } from '../../../src/traces/span';
import type { UsageRecord } from '../../../src/usage/record';

// The span builder: a usage record and its attempts → one OTLP/HTTP JSON span with the GenAI semantic
// conventions' attributes (names taken from the OpenTelemetry project's own package), the
// gateway's `switchyard.*` facts, the record's times, and each attempt as an event.

const RECORD: UsageRecord = {
  id: '7f3c2a9e-1b4d-4c8e-9a21-5d6e7f809a1b',
  client_request_id: 'client-42',
  time: '2026-11-30T12:00:00.000Z',
  user_id: 'u_alice',
  user: 'alice',
  route: 'proxy',
  operation: 'chat/completions',
  provider: 'groq',
  model: 'llama-3.3-70b-versatile',
  status: 200,
  stream: true,
  attempts: 2,
  input_tokens: 120,
  output_tokens: 40,
  cached_input_tokens: 20,
  usage_source: 'provider',
  cost_usd: 0.0000923,
  latency_ms: 850,
  first_byte_ms: 120,
  cache: 'none',
  error_code: null,
  saved_usd: null,
};

const START_MS = Date.parse(RECORD.time);

/** Attributes as a plain object, each value with its OTLP type kept (`{intValue: 3}` is not `{doubleValue: 3}`). */
const attributesOf = (attributes: KeyValue[]) => Object.fromEntries(attributes.map(({ key, value }) => [key, value]));

describe('requestSpan', () => {
  it('is a CLIENT span named "{operation} {model}" with the GenAI attributes and the record’s facts', () => {
    const span = requestSpan(RECORD, []);
    expect(span.name).toBe('chat llama-3.3-70b-versatile');
    expect(span.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(span.traceId).toBe('7f3c2a9e1b4d4c8e9a215d6e7f809a1b');
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.spanId).not.toBe('0000000000000000');
    expect(span.startTimeUnixNano).toBe(`${START_MS}000000`);
    expect(span.endTimeUnixNano).toBe(`${START_MS + 850}000000`);
    expect(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)).toBe(850_000_000n);
    expect(span.status).toEqual({ code: 0 });
    expect(span.events).toEqual([]);
    expect(attributesOf(span.attributes)).toEqual({
      [ATTR_GEN_AI_OPERATION_NAME]: { stringValue: GEN_AI_OPERATION_NAME_VALUE_CHAT },
      [ATTR_GEN_AI_PROVIDER_NAME]: { stringValue: GEN_AI_PROVIDER_NAME_VALUE_GROQ },
      [ATTR_GEN_AI_REQUEST_MODEL]: { stringValue: 'llama-3.3-70b-versatile' },
      [ATTR_GEN_AI_REQUEST_STREAM]: { boolValue: true },
      [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: { intValue: 120 },
      [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: { intValue: 40 },
      [ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]: { intValue: 20 },
      'switchyard.request_id': { stringValue: RECORD.id },
      'switchyard.client_request_id': { stringValue: 'client-42' },
      'switchyard.user_id': { stringValue: 'u_alice' },
      'switchyard.route': { stringValue: 'proxy' },
      'switchyard.provider': { stringValue: 'groq' },
      'switchyard.operation': { stringValue: 'chat/completions' },
      'switchyard.status': { intValue: 200 },
      'switchyard.attempts': { intValue: 2 },
      'switchyard.cache': { stringValue: 'none' },
      'switchyard.usage_source': { stringValue: 'provider' },
      'switchyard.cost_usd': { doubleValue: 0.0000923 },
      'switchyard.first_byte_ms': { intValue: 120 },
    });
    // Each key once: a backend keeps one value per key.
    expect(new Set(span.attributes.map((a) => a.key)).size).toBe(span.attributes.length);
    // The user's name is a label the operator's stack does not need; the id is there.
    expect(JSON.stringify(span)).not.toContain('"alice"');
  });

  it('turns each upstream attempt into an event: provider, key index (never the key), status, duration, error type', () => {
    const span = requestSpan(RECORD, [
      { provider: 'groq', startedAt: START_MS + 5, keyIndex: 0, status: 429, errorType: 'http_429', durationMs: 30 },
      { provider: 'groq', startedAt: START_MS + 40, keyIndex: 1, status: 200, durationMs: 80 },
      { provider: 'gemini', startedAt: START_MS + 130, keyIndex: 2, errorType: 'timeout', durationMs: 500 },
    ]);
    expect(span.events.map((e) => ({ name: e.name, time: e.timeUnixNano, attributes: attributesOf(e.attributes) }))).toEqual([
      {
        name: ATTEMPT_EVENT,
        time: `${START_MS + 5}000000`,
        attributes: {
          [ATTR_GEN_AI_PROVIDER_NAME]: { stringValue: 'groq' },
          'switchyard.provider': { stringValue: 'groq' },
          'switchyard.key_index': { intValue: 0 },
          'switchyard.status': { intValue: 429 },
          [ATTR_ERROR_TYPE]: { stringValue: 'http_429' },
          'switchyard.duration_ms': { intValue: 30 },
        },
      },
      {
        name: ATTEMPT_EVENT,
        time: `${START_MS + 40}000000`,
        attributes: {
          [ATTR_GEN_AI_PROVIDER_NAME]: { stringValue: 'groq' },
          'switchyard.provider': { stringValue: 'groq' },
          'switchyard.key_index': { intValue: 1 },
          'switchyard.status': { intValue: 200 },
          'switchyard.duration_ms': { intValue: 80 },
        },
      },
      {
        name: ATTEMPT_EVENT,
        time: `${START_MS + 130}000000`,
        attributes: {
          [ATTR_GEN_AI_PROVIDER_NAME]: { stringValue: GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI },
          'switchyard.provider': { stringValue: 'gemini' },
          'switchyard.key_index': { intValue: 2 },
          [ATTR_ERROR_TYPE]: { stringValue: 'timeout' },
          'switchyard.duration_ms': { intValue: 500 },
        },
      },
    ]);
  });

  it('marks a failed request as an error with error.type, its status and no made-up cost', () => {
    const span = requestSpan({ ...RECORD, status: 502, error_code: 'upstream_unreachable', cost_usd: null, model: null, first_byte_ms: null }, []);
    expect(span.status).toEqual({ code: 2, message: 'upstream_unreachable' });
    expect(span.name).toBe('chat');
    const attributes = attributesOf(span.attributes);
    expect(attributes[ATTR_ERROR_TYPE]).toEqual({ stringValue: 'upstream_unreachable' });
    expect(attributes['switchyard.status']).toEqual({ intValue: 502 });
    expect(attributes).not.toHaveProperty('switchyard.cost_usd');
    expect(attributes).not.toHaveProperty(ATTR_GEN_AI_REQUEST_MODEL);
    expect(attributes).not.toHaveProperty('switchyard.first_byte_ms');
  });

  it('marks a stream the client left as an error although the status was 200', () => {
    const span = requestSpan({ ...RECORD, error_code: 'client_closed_request' }, []);
    expect(span.status).toEqual({ code: 2, message: 'client_closed_request' });
    expect(attributesOf(span.attributes)[ATTR_ERROR_TYPE]).toEqual({ stringValue: 'client_closed_request' });
  });

  it('gives a cache hit its cost of 0 as a double, like every other cost', () => {
    const span = requestSpan({ ...RECORD, cache: 'hit', cost_usd: 0, cached_input_tokens: 0, attempts: 0 }, []);
    const attributes = attributesOf(span.attributes);
    expect(attributes['switchyard.cost_usd']).toEqual({ doubleValue: 0 });
    expect(attributes['switchyard.cache']).toEqual({ stringValue: 'hit' });
    expect(attributes).not.toHaveProperty(ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS);
  });

  it('gives every span its own span id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => requestSpan(RECORD, []).spanId));
    expect(ids.size).toBe(50);
  });
});

describe('GenAI names', () => {
  it('maps forwarded operations to the conventions’ operation names', () => {
    expect(operationName('chat/completions')).toBe(GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('messages')).toBe(GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('responses')).toBe(GEN_AI_OPERATION_NAME_VALUE_CHAT);
    expect(operationName('completions')).toBe(GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION);
    expect(operationName('embeddings')).toBe(GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
    expect(operationName('models/text-embedding-004:embedContent')).toBe(GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
    expect(operationName('models/text-embedding-004:batchEmbedContents')).toBe(GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
    expect(operationName('models/gemini-2.0-flash:generateContent')).toBe(GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT);
    expect(operationName('models/gemini-2.0-flash:streamGenerateContent')).toBe(GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT);
    // Not in the conventions: the gateway's own names, without a model in them.
    expect(operationName('models/gemini-2.0-flash:countTokens')).toBe('count_tokens');
    expect(operationName('messages/count_tokens')).toBe('count_tokens');
    expect(operationName('images/generations')).toBe('images/generations');
  });

  it('maps provider ids to the conventions’ well-known provider names, others as they are', () => {
    expect(providerName('openai')).toBe(GEN_AI_PROVIDER_NAME_VALUE_OPENAI);
    expect(providerName('anthropic')).toBe(GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC);
    expect(providerName('gemini')).toBe(GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI);
    expect(providerName('groq')).toBe(GEN_AI_PROVIDER_NAME_VALUE_GROQ);
    expect(providerName('mistral')).toBe(GEN_AI_PROVIDER_NAME_VALUE_MISTRAL_AI);
    expect(providerName('sambanova')).toBe('sambanova');
    expect(providerName('my-own-vllm')).toBe('my-own-vllm');
  });
});

describe('exportRequest', () => {
  it('wraps spans in one resource (service.name) and the gateway’s scope', () => {
    const span = requestSpan(RECORD, []);
    expect(exportRequest([span], 'switchyard-eu')).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'switchyard-eu' } }], droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: 'switchyard' }, spans: [span] }],
        },
      ],
    });
  });
});
