import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';

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

/**
 * `stream`, with a read failure (an upstream connection lost mid-answer) turned into one last item
 * instead of an error, so the client is told why its answer stops.
 */
export function endOnFailure<T>(stream: ReadableStream<T>, onFailure: (err: unknown) => T): ReadableStream<T> {
  const reader = stream.getReader();
  return new ReadableStream<T>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.enqueue(onFailure(err));
        controller.close();
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
