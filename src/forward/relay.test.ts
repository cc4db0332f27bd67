import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseFramer } from './relay';

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
