import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanEvents, StreamCounter, type UsageFormat } from './extract';

// The stream meter's scan against an oracle written apart from it: the generated text's length is the
// sum of the JSON-escaped lengths of each format's text fields (as JSON.stringify writes them), and a
// usage object is one named by a key, never by text inside a value.

const TEXT_FIELDS: Record<UsageFormat, string[]> = {
  openai: ['content', 'text', 'arguments'],
  anthropic: ['text', 'partial_json', 'thinking'],
  gemini: ['text'],
};
const OTHER_FIELDS = ['id', 'model', 'role', 'type', 'finish_reason', 'name'];

const escapedLength = (value: string) => JSON.stringify(value).length - 2;

/** Text with what JSON escapes: quotes, backslashes, controls, non-ASCII, pairs, and keys' look-alikes. */
const tricky = fc.string({
  unit: fc.oneof(fc.constantFrom('"', '\\', '\\"', '\n', '\u0001', 'é', '日本', '😀', '"text":"', '"usage":{', '"content":"x"'), fc.string({ maxLength: 5 })),
  maxLength: 40,
});

const field = (format: UsageFormat) => fc.record({ name: fc.constantFrom(...TEXT_FIELDS[format], ...OTHER_FIELDS), value: tricky, nested: fc.boolean() });

describe('scanEvents', () => {
  for (const format of ['openai', 'anthropic', 'gemini'] as const) {
    it(`${format}: counts the JSON-escaped length of every text field, whatever the values hold`, () => {
      fc.assert(
        fc.property(fc.array(fc.array(field(format), { maxLength: 6 }), { maxLength: 8 }), (events) => {
          let expected = 0;
          const text = events
            .map((fields) => {
              const json: Record<string, unknown> = {};
              for (const { name, value, nested } of fields) {
                // One key per object (JSON.parse keeps the last): nested ones go a level down.
                const into = nested ? ((json.delta ??= {}) as Record<string, unknown>) : json;
                if (name in into) continue;
                into[name] = value;
                if (TEXT_FIELDS[format].includes(name)) expected += escapedLength(value);
              }
              return `data: ${JSON.stringify(json)}\n\n`;
            })
            .join('');
          expect(scanEvents(text, format)).toEqual({ textLength: expected, usage: false });
        }),
      );
    });
  }

  it('finds a usage object by its key (spaces allowed), not by text that looks like one', () => {
    expect(scanEvents('data: {"choices":[],"usage":{"prompt_tokens":3}}\n\n', 'openai').usage).toBe(true);
    expect(scanEvents('data: {"usageMetadata" : {"promptTokenCount":3}}\n\n', 'gemini').usage).toBe(true);
    expect(scanEvents(`data: ${JSON.stringify({ delta: { content: '"usage":{"prompt_tokens":3}' } })}\n\n`, 'openai')).toEqual({
      textLength: escapedLength('"usage":{"prompt_tokens":3}'),
      usage: false,
    });
  });

  it('leaves a value not ended in the text uncounted, however long', () => {
    const cut = `[{"candidates":[{"content":{"parts":[{"text":"${'a\\"'.repeat(4 * 1024 * 1024)}`;
    expect(scanEvents(`[{"text":"done"},${cut.slice(1)}`, 'gemini')).toEqual({ textLength: 4, usage: false });
  });
});

describe('StreamCounter', () => {
  it('reads the provider counts of a usage event among text events, and takes out the usage-only chunk when asked', () => {
    const text = `data: ${JSON.stringify({ choices: [{ delta: { content: 'Hello "world"' } }] })}\n\n`;
    const usage = `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } })}\n\n`;
    const counter = new StreamCounter('openai', true);
    const out = new TextDecoder().decode(counter.events(new TextEncoder().encode(text + usage + 'data: [DONE]\n\n')));
    expect(out).toBe(`${text}data: [DONE]\n\n`);
    expect(counter.result('done', 0)).toEqual({ counts: { input: 7, output: 3, cached: 0 }, source: 'provider' });
  });

  it('estimates a stream cut before the provider counted it from the text streamed', () => {
    const counter = new StreamCounter('anthropic');
    const delta = { type: 'content_block_delta', delta: { type: 'text_delta', text: 'x'.repeat(41) } };
    counter.events(new TextEncoder().encode(`event: content_block_delta\ndata: ${JSON.stringify(delta)}\n\n`));
    expect(counter.result('client_closed', 400)).toEqual({ counts: { input: 100, output: 11, cached: 0 }, source: 'estimated' });
  });
});
