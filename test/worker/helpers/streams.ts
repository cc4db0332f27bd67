import type { PivotEvent } from '../../../src/protocols/pivot/chat';
import { type EventSourceMessage, sseEvents } from '../../../src/protocols/pivot/sse';

// Helpers for running fixtures through the stream translators.

/** Text as a byte stream cut every `size` bytes, so that events arrive split across chunks as on a network. */
export function bytesOf(text: string, size = 7): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

export async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const items: T[] = [];
  const reader = stream.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) items.push(read.value);
  return items;
}

/** An SSE fixture through a provider's decoder: the pivot events it yields. */
export function decodeFixture(text: string, decoder: TransformStream<EventSourceMessage, PivotEvent>): Promise<PivotEvent[]> {
  return collect(sseEvents(bytesOf(text)).pipeThrough(decoder));
}

/** Pivot events through a client encoder: the SSE text it writes. */
export async function encodeEvents(events: PivotEvent[], encoder: TransformStream<PivotEvent, string>): Promise<string> {
  const source = new ReadableStream<PivotEvent>({
    start(controller) {
      for (const event of events) controller.enqueue(event);
      controller.close();
    },
  });
  return (await collect(source.pipeThrough(encoder))).join('');
}

/** SSE text as its events: `event` name (or undefined) and the `data` line, parsed as JSON unless `[DONE]`. */
export function parseSse(text: string): { event?: string; data: any }[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const lines = frame.split(/\r?\n/);
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))!.slice(6);
      return { event, data: data === '[DONE]' ? data : JSON.parse(data) };
    });
}

export const chunks = (events: PivotEvent[]) => events.flatMap((e) => ('chunk' in e ? [e.chunk] : []));
export const failures = (events: PivotEvent[]) => events.flatMap((e) => ('failure' in e ? [e.failure] : []));
/** The text of all content deltas. */
export const textOf = (events: PivotEvent[]) =>
  chunks(events)
    .map((c) => c.choices[0]?.delta.content ?? '')
    .join('');
