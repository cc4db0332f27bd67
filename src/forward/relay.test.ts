import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyReader, readHead, SseFramer } from './relay';

// The framer against an oracle written apart from it: after each chunk, exactly the bytes up to the
// last blank line received so far have gone out, in order, and the rest is held.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Indexes just past each blank line (LF LF, or LF CR LF) in `text`. */
function eventEnds(text: string): number[] {
  const ends = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\n') continue;
    if (text[i - 1] === '\n' || (text[i - 1] === '\r' && text[i - 2] === '\n')) ends.push(i + 1);
  }
  return ends;
}

const line = fc.stringMatching(/^(data|event|id|: comment|data: \{"a":"[a-z ]{0,40}"\})$/);
const event = fc.tuple(fc.array(line, { minLength: 1, maxLength: 3 }), fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.join(eol) + eol + eol);

describe('SseFramer', () => {
  it('passes exactly the whole events received so far, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.string({ maxLength: 30 }),
        (events, cuts, unfinished) => {
          const text = events.join('') + unfinished.replace(/\n/g, ' ');
          const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
          const framer = new SseFramer();
          const ends = eventEnds(text);
          let out = '';
          let previous = 0;
          for (const point of [...points, text.length]) {
            const chunk = encoder.encode(text.slice(previous, point));
            for (const piece of framer.push(chunk)) out += decoder.decode(piece);
            const expected = Math.max(0, ...ends.filter((end) => end <= point));
            expect(out).toBe(text.slice(0, expected));
            previous = point;
          }
          expect(out + decoder.decode(framer.rest())).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('hands events on as views of the chunk they came in: only an event that spans chunks is copied', () => {
    const framer = new SseFramer();
    const first = encoder.encode('data: 1\n\ndata: 2\n\ndata: 3');
    const [whole] = framer.push(first);
    expect(whole!.buffer).toBe(first.buffer);
    const second = encoder.encode('3\n\ndata: 4\n\ndata: 5\n\n');
    const [joined, rest] = framer.push(second);
    expect(decoder.decode(joined)).toBe('data: 33\n\n');
    expect(decoder.decode(rest)).toBe('data: 4\n\ndata: 5\n\n');
    expect(rest!.buffer).toBe(second.buffer);
  });
});

/** A body arriving in `chunks`, each on a later turn, as a byte stream (as fetch bodies are) or not. */
function bodyOf(chunks: Uint8Array[], bytes = true): ReadableStream<Uint8Array> {
  let next = 0;
  const pull = async (controller: { enqueue(chunk: Uint8Array): void; close(): void }) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (next < chunks.length) controller.enqueue(chunks[next++]!.slice());
    else controller.close();
  };
  return bytes ? new ReadableStream({ type: 'bytes', pull }) : new ReadableStream<Uint8Array>({ pull });
}

const pieces = (total: number, sizes: number[]) => {
  const all = Uint8Array.from({ length: total }, (_, i) => i % 251);
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(all.subarray(at, at + size));
    at += size;
  }
  return { all, out };
};

describe('readHead of a JSON answer (whole)', () => {
  it('reads a body to its end in as many chunks as it comes, small or large, byte stream or not', async () => {
    for (const [total, sizes] of [
      [300, [300]],
      [5_000, [1, 999, 4_000]],
      [100_000, [7_000, 13_000, 1]],
    ] as const) {
      for (const bytes of [true, false]) {
        const { all, out } = pieces(total, [...sizes]);
        const head = await readHead(bodyReader(bodyOf(out, bytes), new AbortController().signal), { whole: true, maxBytes: 8 << 20 });
        expect(head.done).toBe(true);
        expect(head.bytes).toEqual(all);
      }
    }
  });

  it('stops past maxBytes, not done, and the rest is read after it', async () => {
    const { all, out } = pieces(200_000, [10_000]);
    const reader = bodyReader(bodyOf(out), new AbortController().signal);
    const head = await readHead(reader, { whole: true, maxBytes: 50_000 });
    expect(head.done).toBe(false);
    expect(head.bytes.length).toBeGreaterThanOrEqual(50_000);
    const rest: Uint8Array[] = [head.bytes];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    expect(new Uint8Array(rest.flatMap((part) => [...part]))).toEqual(all);
  });

  it('ends with the signal’s reason when it aborts during a read', async () => {
    const stalled = new ReadableStream<Uint8Array>({ type: 'bytes', pull: () => new Promise(() => {}) });
    const abort = new AbortController();
    const head = readHead(bodyReader(stalled, abort.signal), { whole: true, maxBytes: 1_000 });
    abort.abort('timed_out');
    await expect(head).rejects.toBe('timed_out');
  });
});
