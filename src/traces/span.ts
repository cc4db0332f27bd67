import type { UsageRecord } from '../usage/record';
import type { AttemptTrace } from '../usage/tap';
import {
  bool,
  double,
  int,
  type KeyValue,
  type OtlpEvent,
  type OtlpSpan,
  SPAN_FLAGS,
  SPAN_KIND_CLIENT,
  STATUS_ERROR,
  STATUS_UNSET,
  text,
  unixNano,
} from './otlp';
import { operationName, providerName } from './semconv';

// The span of one request that reached a provider, from its usage record (complete once the request
// and any stream it relayed have ended) and its upstream attempts: the GenAI semantic conventions'
// client span, the gateway's own facts as `switchyard.*`. Like the record: no prompt, answer or key.

/** The name of the span event each upstream attempt becomes. */
export const ATTEMPT_EVENT = 'switchyard.upstream_attempt';

export function requestSpan(record: UsageRecord, attempts: readonly AttemptTrace[]): OtlpSpan {
  const operation = operationName(record.operation);
  const start = Date.parse(record.time);
  const failed = record.error_code !== null;
  const attributes: KeyValue[] = [
    text('gen_ai.operation.name', operation),
    text('gen_ai.provider.name', providerName(record.provider)),
    ...(record.model !== null ? [text('gen_ai.request.model', record.model)] : []),
    bool('gen_ai.request.stream', record.stream),
    int('gen_ai.usage.input_tokens', record.input_tokens),
    int('gen_ai.usage.output_tokens', record.output_tokens),
    ...(record.cached_input_tokens > 0 ? [int('gen_ai.usage.cache_read.input_tokens', record.cached_input_tokens)] : []),
    ...(failed ? [text('error.type', record.error_code!)] : []),
    text('switchyard.request_id', record.id),
    ...(record.client_request_id !== null ? [text('switchyard.client_request_id', record.client_request_id)] : []),
    text('switchyard.user_id', record.user_id),
    text('switchyard.route', record.route),
    text('switchyard.provider', record.provider),
    text('switchyard.operation', record.operation),
    int('switchyard.status', record.status),
    int('switchyard.attempts', record.attempts),
    text('switchyard.cache', record.cache),
    text('switchyard.usage_source', record.usage_source),
    // An unpriced model has no cost (never a made-up 0), as in the record.
    ...(record.cost_usd !== null ? [double('switchyard.cost_usd', record.cost_usd)] : []),
    ...(record.first_byte_ms !== null ? [int('switchyard.first_byte_ms', record.first_byte_ms)] : []),
  ];
  return {
    traceId: traceIdOf(record.id),
    spanId: randomHex(8),
    name: record.model !== null ? `${operation} ${record.model}` : operation,
    kind: SPAN_KIND_CLIENT,
    startTimeUnixNano: unixNano(start),
    endTimeUnixNano: unixNano(start + record.latency_ms),
    attributes,
    droppedAttributesCount: 0,
    events: attempts.map(attemptEvent),
    droppedEventsCount: 0,
    status: failed ? { code: STATUS_ERROR, message: record.error_code! } : { code: STATUS_UNSET },
    links: [],
    droppedLinksCount: 0,
    flags: SPAN_FLAGS,
  };
}

function attemptEvent(attempt: AttemptTrace): OtlpEvent {
  const attributes: KeyValue[] = [
    text('gen_ai.provider.name', providerName(attempt.provider)),
    text('switchyard.provider', attempt.provider),
    ...(attempt.keyIndex !== undefined ? [int('switchyard.key_index', attempt.keyIndex)] : []),
    ...(attempt.status !== undefined ? [int('switchyard.status', attempt.status)] : []),
    ...(attempt.errorType !== undefined ? [text('error.type', attempt.errorType)] : []),
    ...(attempt.durationMs !== undefined ? [int('switchyard.duration_ms', attempt.durationMs)] : []),
  ];
  return { timeUnixNano: unixNano(attempt.startedAt), name: ATTEMPT_EVENT, attributes, droppedAttributesCount: 0 };
}

/** The gateway's request id (a random UUID) is the trace id: the X-Request-Id an answer carries finds its trace. */
function traceIdOf(requestId: string): string {
  const hex = requestId.replaceAll('-', '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? hex : randomHex(16);
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}
