import type { TokenCounts } from './price';
import type { UsageSource } from './record';

// The provider's own token counts, read from its answers in its wire format: OpenAI `usage`
// (Chat Completions, completions, embeddings, Responses, images), Anthropic `usage` (message, and in a
// stream message_start + message_delta), Gemini `usageMetadata`. Streams are read as they pass: only
// events that carry usage are parsed; the rest is scanned for the length of its text, the estimate
// kept for a stream cut before the provider's count arrived.

export type UsageFormat = 'openai' | 'anthropic' | 'gemini';

/** The wire format of an operation's answer. */
export function usageFormat(operation: string): UsageFormat {
  if (operation === 'messages') return 'anthropic';
  if (/^models\/[^/]+:/.test(operation) || operation.includes(':')) return 'gemini';
  return 'openai';
}

type Counts = Partial<TokenCounts>;
type Json = Record<string, unknown>;

const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const obj = (value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined);

function openaiCounts(json: Json): Counts | undefined {
  const usage = obj(json.usage) ?? obj(obj(json.response)?.usage);
  if (!usage) return undefined;
  const details = obj(usage.prompt_tokens_details) ?? obj(usage.input_tokens_details);
  return {
    input: num(usage.prompt_tokens) ?? num(usage.input_tokens) ?? 0,
    output: num(usage.completion_tokens) ?? num(usage.output_tokens) ?? 0,
    cached: num(details?.cached_tokens) ?? 0,
  };
}

function anthropicCounts(json: Json): Counts | undefined {
  const usage = obj(json.usage) ?? obj(obj(json.message)?.usage);
  if (!usage) return undefined;
  const counts: Counts = {};
  const input = num(usage.input_tokens);
  // Anthropic's input_tokens leaves out the tokens read from and written to its prompt cache.
  if (input !== undefined) {
    const read = num(usage.cache_read_input_tokens) ?? 0;
    counts.input = input + read + (num(usage.cache_creation_input_tokens) ?? 0);
    counts.cached = read;
  }
  const output = num(usage.output_tokens);
  if (output !== undefined) counts.output = output;
  return counts;
}

function geminiCounts(json: Json): Counts | undefined {
  const usage = obj(json.usageMetadata);
  if (!usage) return undefined;
  return {
    input: num(usage.promptTokenCount) ?? 0,
    output: (num(usage.candidatesTokenCount) ?? 0) + (num(usage.thoughtsTokenCount) ?? 0),
    cached: num(usage.cachedContentTokenCount) ?? 0,
  };
}

const READERS: Record<UsageFormat, (json: Json) => Counts | undefined> = { openai: openaiCounts, anthropic: anthropicCounts, gemini: geminiCounts };

const complete = (counts: Counts): TokenCounts => ({ input: counts.input ?? 0, output: counts.output ?? 0, cached: counts.cached ?? 0 });

/** The counts in a whole JSON answer (Gemini's streamed JSON array: its last counts), if it has any. */
export function usageFromJson(format: UsageFormat, json: unknown): TokenCounts | undefined {
  const items = Array.isArray(json) ? json : [json];
  let found: Counts | undefined;
  for (const item of items) {
    const counts = obj(item) && READERS[format](item as Json);
    if (counts) found = { ...found, ...counts };
  }
  return found && complete(found);
}

/**
 * The provider's counts in a whole answer as stored by the cache (SSE events or JSON); none when the
 * answer carries none (an OpenAI stream whose client did not ask for usage had it taken out).
 */
export function usageOfAnswer(format: UsageFormat, contentType: string, bytes: Uint8Array): TokenCounts | undefined {
  if (contentType.includes('text/event-stream')) {
    const counter = new StreamCounter(format);
    counter.events(bytes);
    const { counts, source } = counter.result('done', 0);
    return source === 'provider' ? counts : undefined;
  }
  try {
    return usageFromJson(format, JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    return undefined;
  }
}

/** Tokens estimated from text: about four characters each, never 0 for some text. */
export const estimateTokens = (chars: number) => (chars <= 0 ? 0 : Math.max(1, Math.ceil(chars / 4)));

/** A usage object's key and opening brace (Gemini's `usageMetadata` too), after the key's opening quote. */
const USAGE_KEY = 'usage(?:Metadata)?"\\s*:\\s*\\{';
const USAGE_MARK = new RegExp(`"${USAGE_KEY}`);
const EVENT_SPLIT = /(?<=\r?\n\r?\n)/;

/**
 * Where each format's generated text starts (the string fields that carry output in its stream events)
 * and where a usage object starts, as one pattern: one pass of the regex engine finds both. The text
 * itself is skipped with `indexOf` (the engine's fast search), not matched: in workerd a pattern
 * matching the values cost ~160 µs per 256 KiB of events (bench: the 100 MB stream).
 */
const marksOf = (textFields: string) => new RegExp(`"(?:(?:${textFields})":"|${USAGE_KEY})`, 'g');
const MARKS: Record<UsageFormat, RegExp> = {
  openai: marksOf('content|text|arguments'),
  anthropic: marksOf('text|partial_json|thinking'),
  gemini: marksOf('text'),
};

const BACKSLASH = 92;

/** Index of the quote that ends a JSON string whose text starts at `from`, or -1 (not in `text`). */
function stringEnd(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}

/**
 * The length of the generated text in some stream events (as JSON-escaped in them; a value not ended
 * in `text` is not counted), and whether they name a usage object.
 */
export function scanEvents(text: string, format: UsageFormat): { textLength: number; usage: boolean } {
  const marks = MARKS[format];
  let textLength = 0;
  let usage = false;
  marks.lastIndex = 0;
  for (let mark = marks.exec(text); mark; mark = marks.exec(text)) {
    if (mark[0].endsWith('{')) {
      usage = true;
      continue;
    }
    const start = marks.lastIndex;
    const end = stringEnd(text, start);
    if (end < 0) break;
    textLength += end - start;
    marks.lastIndex = end + 1;
  }
  return { textLength, usage };
}

function eventData(event: string): string {
  return event
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
    .join('\n');
}

/** How a counted stream ended. */
export type StreamEnding = 'done' | 'client_closed' | 'upstream_failed' | 'idle_timeout' | 'event_too_large';

/**
 * Counts an SSE stream as its whole events pass. With `hideUsageChunk` (the gateway asked an OpenAI
 * provider for usage the client did not ask for) the usage-only chunk is taken out of the stream.
 */
export class StreamCounter {
  private counts: Counts = {};
  private textChars = 0;
  private rawTail = '';
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly format: UsageFormat,
    private readonly hideUsageChunk = false,
  ) {}

  /** Whole SSE events on their way to the client; returns the bytes the client gets. */
  events(bytes: Uint8Array): Uint8Array {
    if (bytes.length === 0) return bytes;
    const text = this.decoder.decode(bytes);
    const { textLength, usage } = scanEvents(text, this.format);
    this.textChars += textLength;
    if (!usage) return bytes;
    let dropped = false;
    const kept = text.split(EVENT_SPLIT).filter((event) => {
      if (!USAGE_MARK.test(event)) return true;
      let json: Json | undefined;
      try {
        json = obj(JSON.parse(eventData(event)));
      } catch {
        return true;
      }
      const counts = json && READERS[this.format](json);
      if (counts) this.counts = { ...this.counts, ...counts };
      const usageOnly = this.hideUsageChunk && Array.isArray(json?.choices) && (json.choices as unknown[]).length === 0;
      if (usageOnly) dropped = true;
      return !usageOnly;
    });
    return dropped ? this.encoder.encode(kept.join('')) : bytes;
  }

  /** A chunk of a body that is not SSE (Gemini's streamed JSON array): only its end is kept, read last. */
  raw(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    this.textChars += scanEvents(text, this.format).textLength;
    this.rawTail = (this.rawTail + text).slice(-4096);
  }

  /** The last usage object in the end of a body that is not SSE (one level of nesting: `*_details`). */
  private readRawTail() {
    const usage = /"(usage|usageMetadata)"\s*:\s*(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})/g;
    let last: RegExpExecArray | undefined;
    for (let match = usage.exec(this.rawTail); match; match = usage.exec(this.rawTail)) last = match;
    if (!last) return;
    try {
      const counts = READERS[this.format]({ [last[1]!]: JSON.parse(last[2]!) });
      if (counts) this.counts = { ...this.counts, ...counts };
    } catch {
      // A usage object cut by the tail's start: no count, the estimate stands.
    }
  }

  /**
   * The counts once the stream ended. A stream that ended normally has the provider's counts. One cut
   * short keeps the provider's counts sent so far, but output is at least what was streamed (the
   * provider's final count never came) and input, when the provider sent none, is estimated from the
   * request: `estimated`.
   */
  result(ending: StreamEnding, requestBytes: number): { counts: TokenCounts; source: UsageSource } {
    if (this.rawTail) this.readRawTail();
    const streamed = estimateTokens(this.textChars);
    const reported = this.counts.input !== undefined || this.counts.output !== undefined;
    if (ending === 'done' && reported) return { counts: complete(this.counts), source: 'provider' };
    if (ending === 'done' && streamed === 0) return { counts: complete(this.counts), source: 'none' };
    const counts = complete(this.counts);
    if (this.counts.input === undefined) counts.input = estimateTokens(requestBytes);
    const providerOutput = this.counts.output ?? 0;
    counts.output = Math.max(providerOutput, streamed);
    const own = this.counts.input !== undefined && this.counts.output !== undefined && providerOutput >= streamed;
    return { counts, source: own ? 'provider' : 'estimated' };
  }
}
