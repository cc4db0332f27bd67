import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';
import type { PivotEvent } from './chat';

export type { EventSourceMessage };

// no-store: a stream is one user's answer, never for a shared cache on the way.
export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' };

/** The events of an upstream SSE body, parsed as they arrive (LF or CRLF framing). */
export function sseEvents(body: ReadableStream<Uint8Array>): ReadableStream<EventSourceMessage> {
  // workers-types give TextDecoderStream a BufferSource writable side, wider than a body's Uint8Array.
  const decoder = new TextDecoderStream() as TransformStream<Uint8Array, string>;
  return body.pipeThrough(decoder).pipeThrough(new EventSourceParserStream());
}

/** One SSE frame: an optional `event:` line and one `data:` line. */
export function sseFrame(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** The reason a translation cancels the rest of an upstream stream once the answer has failed. */
export const ANSWER_FAILED = 'answer_failed';

/**
 * `stream`, ended at its first failure. A read failure (an upstream connection lost mid-answer) becomes
 * one last item instead of an error, so the client is told why its answer stops. After a failure item
 * (the provider's error event, an event that cannot be read) the rest of the stream is cancelled, which
 * stops the upstream: decoders skip what follows a failure, so reading on would spend tokens for nobody
 * and keep the client waiting for an end only the upstream would give.
 */
export function endOnFailure(stream: ReadableStream<PivotEvent>, onFailure: (err: unknown) => PivotEvent): ReadableStream<PivotEvent> {
  const reader = stream.getReader();
  return new ReadableStream<PivotEvent>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        if (!('failure' in value)) return;
        controller.close();
        reader.cancel(ANSWER_FAILED).catch(() => {});
      } catch (err) {
        controller.enqueue(onFailure(err));
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
