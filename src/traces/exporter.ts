import { logEvent } from '../log';
import type { UsageRecord } from '../usage/record';
import type { AttemptTrace } from '../usage/tap';
import { exportRequest, type OtlpSpan } from './otlp';
import { type TraceSettings, traceSettings } from './settings';
import { requestSpan } from './span';

// Spans leave the isolate in batches, off the response path. A request's span joins the isolate's
// queue; the first request to find no export scheduled keeps itself alive (waitUntil) for
// FLUSH_DELAY_MS and then posts every span queued by then, its own and other requests', in one
// OTLP/HTTP request. Traces are telemetry: when the collector is down or slow the batch is dropped
// with a log line, never retried or held (the usage record in D1 remains the account of every
// request), and the queue is bounded. docs/architecture.md, "Traces", says why not a Queue.

/** How long spans gather in the isolate before one export carries them. */
export const FLUSH_DELAY_MS = 1_000;
/** Spans an isolate holds at most (the OpenTelemetry SDK's batch processor's default queue size); more are dropped and counted. */
const MAX_QUEUED_SPANS = 2_048;
/** Spans per export request at most (the SDK's default batch size). */
const MAX_EXPORT_SPANS = 512;
/** An export not answered by then is dropped (OTEL_EXPORTER_OTLP_TIMEOUT's default). */
const EXPORT_TIMEOUT_MS = 10_000;

let queued: OtlpSpan[] = [];
let flushScheduled = false;
let droppedFull = 0;

type TraceEnv = Parameters<typeof traceSettings>[0];

/**
 * Queue the span of a request that reached a provider; `keepAlive` is the request's waitUntil. Never
 * throws and never waits: it runs where the usage record is handed on.
 */
export function traceRequest(env: TraceEnv, record: UsageRecord, attempts: readonly AttemptTrace[], keepAlive: (work: Promise<void>) => void): void {
  const settings = traceSettings(env);
  if (!settings.url) return;
  if (queued.length >= MAX_QUEUED_SPANS) {
    droppedFull++;
    return;
  }
  queued.push(requestSpan(record, attempts));
  if (flushScheduled) return;
  flushScheduled = true;
  keepAlive(flushLater(env, settings));
}

async function flushLater(env: TraceEnv, settings: TraceSettings): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS));
  flushScheduled = false;
  const spans = queued;
  queued = [];
  if (droppedFull > 0) {
    logEvent(env, 'error', { event: 'traces_dropped', spans: droppedFull, reason: 'queue_full' });
    droppedFull = 0;
  }
  for (let from = 0; from < spans.length; from += MAX_EXPORT_SPANS) await post(env, settings, spans.slice(from, from + MAX_EXPORT_SPANS));
}

async function post(env: TraceEnv, settings: TraceSettings, spans: OtlpSpan[]): Promise<void> {
  let reason: string;
  try {
    const res = await fetch(settings.url!, {
      method: 'POST',
      headers: settings.headers,
      body: JSON.stringify(exportRequest(spans, settings.serviceName)),
      // The headers carry the collector's key: they go to the endpoint and nowhere it redirects to.
      redirect: 'manual',
      signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.ok) return;
    reason = `http_${res.status}`;
  } catch (err) {
    reason = err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : `network_${err instanceof Error ? err.name : 'error'}`;
  }
  logEvent(env, 'error', { event: 'traces_dropped', spans: spans.length, reason });
}
