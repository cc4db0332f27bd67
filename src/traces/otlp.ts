// OTLP/HTTP JSON (opentelemetry-proto's JSON mapping): the few messages the gateway sends. Ids are
// hex, times are nanoseconds since the epoch as decimal strings (beyond 2^53), enums are numbers;
// zero-valued fields are written as the OpenTelemetry JS SDK's own JSON serializer writes them.

export type AnyValue = { stringValue: string } | { intValue: number } | { doubleValue: number } | { boolValue: boolean };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpEvent {
  timeUnixNano: string;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: 0;
}

/** Span.SpanKind.SPAN_KIND_CLIENT */
export const SPAN_KIND_CLIENT = 3;
/** Status.StatusCode: UNSET (the default, for success) or ERROR. */
export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;
/** W3C `sampled`, and SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK with IS_REMOTE clear: the span has no remote parent. */
export const SPAN_FLAGS = 0x01 | 0x100;

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  name: string;
  kind: typeof SPAN_KIND_CLIENT;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: 0;
  events: OtlpEvent[];
  droppedEventsCount: 0;
  status: { code: typeof STATUS_UNSET } | { code: typeof STATUS_ERROR; message: string };
  links: [];
  droppedLinksCount: 0;
  flags: number;
}

/** The instrumentation scope naming the gateway as the spans' source. */
export const SCOPE_NAME = 'switchyard';

/** ExportTraceServiceRequest: one resource (the gateway, as `service.name`) and one scope. */
export function exportRequest(spans: OtlpSpan[], serviceName: string) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: SCOPE_NAME }, spans }],
      },
    ],
  };
}

/** Milliseconds since the epoch as OTLP's nanoseconds. */
export const unixNano = (ms: number): string => `${Math.round(ms)}000000`;

export const text = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
export const int = (key: string, value: number): KeyValue => ({ key, value: { intValue: Math.round(value) } });
export const double = (key: string, value: number): KeyValue => ({ key, value: { doubleValue: value } });
export const bool = (key: string, value: boolean): KeyValue => ({ key, value: { boolValue: value } });
