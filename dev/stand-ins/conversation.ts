import { createHash } from 'node:crypto';
import { shellCall } from './shell';

// What every dialect answers, decided once: the echo text, the tool call, token counts, embeddings.

/** Token counts are derived from text length: one token per 4 characters, at least 1. */
export const tokenCount = (text: string) => Math.max(1, Math.ceil(text.length / 4));

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  argumentsJson: string;
}

export interface Reply {
  /** The text of the last user message, which the reply echoes. */
  lastUserText?: string;
  /** `Echo: <last user text>`, cut to the token limit. Empty when the reply is a tool call. */
  text: string;
  finish: 'stop' | 'length' | 'tool';
  toolCall?: ToolCall;
  promptTokens: number;
  completionTokens: number;
}

export interface ReplyInput {
  /** Text of the last user message that has text. */
  lastUserText: string;
  /** True when the conversation ends with a user message (not a tool result). */
  endsWithUserText: boolean;
  /** All text of the request (system and every message), for the prompt token count. */
  promptText: string;
  toolNames: string[];
  /** A tool the request forces: a name, or `true` for "any tool". */
  forcedTool?: string | true;
  maxTokens?: number;
  /** Tool results since the last user text: a request naming several cities gets one call per city, in turn. */
  toolResultsSinceUser?: number;
}

/** The cities in "… in Paris, in Berlin and in Rome …", else Paris: tool arguments are deterministic. */
function citiesOf(text: string): string[] {
  const cities = [...text.matchAll(/\bin ([A-Z][A-Za-z-]+)/g)].map((match) => match[1]!);
  return cities.length ? cities : ['Paris'];
}

function toolArguments(text: string, step = 0): Record<string, unknown> {
  const cities = citiesOf(text);
  return { location: cities[Math.min(step, cities.length - 1)] };
}

export function planReply(input: ReplyInput): Reply {
  const promptTokens = tokenCount(input.promptText);
  const done = input.toolResultsSinceUser ?? 0;
  // A weather question gets one call per city it names, one turn each, then the answer.
  const nextCity =
    /weather/i.test(input.lastUserText) && (input.endsWithUserText || (input.toolResultsSinceUser !== undefined && done < citiesOf(input.lastUserText).length));
  const wantsTool = input.toolNames.length > 0 && (input.forcedTool !== undefined || nextCity);
  const shell = wantsTool ? undefined : shellCall(input);
  if (wantsTool || shell) {
    const name =
      typeof input.forcedTool === 'string' && input.toolNames.includes(input.forcedTool)
        ? input.forcedTool
        : (input.toolNames.find((n) => /weather/i.test(n)) ?? input.toolNames[0]!);
    const args = toolArguments(input.lastUserText, done);
    const toolCall = shell ?? { name, arguments: args, argumentsJson: JSON.stringify(args) };
    return {
      text: '',
      finish: 'tool',
      toolCall,
      promptTokens,
      completionTokens: tokenCount(toolCall.argumentsJson),
      lastUserText: input.lastUserText,
    };
  }
  let text = `Echo: ${input.lastUserText}`;
  let finish: Reply['finish'] = 'stop';
  if (input.maxTokens !== undefined && input.maxTokens > 0 && tokenCount(text) > input.maxTokens) {
    text = text.slice(0, input.maxTokens * 4);
    finish = 'length';
  }
  return { text, finish, promptTokens, completionTokens: tokenCount(text), lastUserText: input.lastUserText };
}

/** Word-sized pieces ("Echo: ", "hello ", "world"), the way a model streams tokens. */
export function textChunks(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [text];
}

/** Tool-call arguments as a model streams them: a few characters at a time. */
export function jsonChunks(json: string, size = 8): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += size) pieces.push(json.slice(i, i + size));
  return pieces;
}

/** A unit-length vector derived from the text's SHA-256 (float32 values, so base64 and JSON agree). */
export function embeddingOf(text: string, dimensions = 8): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < digest.length && values.length < dimensions; i += 2) {
      values.push((digest.readUInt16BE(i) / 65535) * 2 - 1);
    }
  }
  const norm = Math.hypot(...values) || 1;
  return values.map((v) => Math.fround(v / norm));
}

export function float32Base64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

/** Text of a content value: a string, or an array of parts carrying `text`. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
    .filter(Boolean)
    .join(' ');
}

let counter = 0;
/** Ids that look like the provider's (`chatcmpl-…`, `msg_…`) and differ per answer. */
export function answerId(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter.toString(36).padStart(4, '0')}`;
}

/** 1×1 transparent PNG. */
export const TINY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/**
 * A signature the stand-in can check later, in the shape of the real ones (standard base64 of opaque
 * bytes): what a provider signs (reasoning text, a function call) comes back with it or is refused.
 */
export function signatureOf(signed: string): string {
  return Buffer.concat([Buffer.from('standin-sig:'), createHash('sha256').update(signed).digest()]).toString('base64');
}

export const isSignatureOf = (signature: unknown, signed: string) => typeof signature === 'string' && signature === signatureOf(signed);

/** Reasoning text the stand-ins produce when thinking is on. */
export const reasoningFor = (lastUserText: string) => `The user wrote "${lastUserText}". I answer plainly.`;

/**
 * Prompt caching as the providers report it: the longest prefix (a list of serialised pieces) seen
 * before is read from the cache; a new one is written. Per stand-in process.
 */
export class PromptCache {
  private readonly seen = new Set<string>();

  /** Tokens of the longest cached prefix, after remembering every prefix of this prompt. */
  lookup(pieces: string[]): number {
    let cached = 0;
    let prefix = '';
    for (const piece of pieces) {
      prefix += piece;
      const key = createHash('sha256').update(prefix).digest('hex');
      if (this.seen.has(key)) cached = tokenCount(prefix);
      else this.seen.add(key);
    }
    return cached;
  }
}

/** A tool name as OpenAI, Groq and Anthropic take it (function names, client tool names). */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The stand-ins' hosted web search runs when the last user text asks for a search. */
export const searchRequested = (text: string) => /\bsearch\b/i.test(text);

/** The one source a stand-in search finds for a query. */
export const searchSource = (query: string) => ({
  url: `https://example.com/search/${encodeURIComponent(query.slice(0, 40).toLowerCase().replace(/\s+/g, '-'))}`,
  title: `About ${query.slice(0, 40)}`,
});

/**
 * A call of a tool whose one parameter is a string `input` (a freeform tool carried as a function):
 * its arguments are that text, as a model writes them for such a tool.
 */
export function fitToSchema(call: ToolCall, schema: unknown): ToolCall {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  if (!properties || Object.keys(properties).join() !== 'input' || properties.input?.type !== 'string') return call;
  const args = { input: `${call.name} ${Object.values(call.arguments).join(' ')}` };
  return { ...call, arguments: args, argumentsJson: JSON.stringify(args) };
}
