// The playground's calls to the gateway. Chat goes to each provider's native streaming operation
// (OpenAI chat/completions, Anthropic messages, Gemini streamGenerateContent), so any provider the
// vault names can be tried without the gateway translating between protocols.
import { type EventSourceMessage, EventSourceParserStream } from 'eventsource-parser/stream';
import type { WireProtocol } from '../../providers/table';
import { gatewayFailure, ShownError } from '../shared/errors';

export interface ProviderEntry {
  id: string;
  protocol: WireProtocol;
}

export interface ModelEntry {
  id: string;
  usage?: string;
  max_completion_tokens?: number | null;
}

export interface ChatRequest {
  provider: ProviderEntry;
  model: ModelEntry;
  system: string;
  prompt: string;
}

const authorized = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

async function getList<T>(path: string, key: string): Promise<T[]> {
  const res = await fetch(path, { headers: authorized(key) });
  if (!res.ok) throw await gatewayFailure(res);
  return ((await res.json()) as { data: T[] }).data;
}

export const listProviders = (key: string) => getList<ProviderEntry>('/v1/providers', key);

export const listModels = (key: string, providerId: string) => getList<ModelEntry>(`/${providerId}/v1/models`, key);

/** Anthropic requires max_tokens: the model's own limit, capped to keep playground answers short. */
const ANTHROPIC_MAX_TOKENS = 4096;

interface Dialect {
  path(req: ChatRequest): string;
  body(req: ChatRequest): unknown;
  /** The text an event adds to the answer; throws when the event reports an error. */
  text(event: EventSourceMessage): string;
}

type ErrorBody = { error?: { message?: string } };

function parseEvent<T>(event: EventSourceMessage): T & ErrorBody {
  const json = JSON.parse(event.data) as T & ErrorBody;
  if (json.error || event.event === 'error') {
    throw new ShownError(`The provider stopped with an error: ${json.error?.message ?? event.data}`);
  }
  return json;
}

const DIALECTS: Record<WireProtocol, Dialect> = {
  openai: {
    path: (req) => `/${req.provider.id}/v1/chat/completions`,
    body: (req) => ({
      model: req.model.id,
      stream: true,
      messages: [...(req.system ? [{ role: 'system', content: req.system }] : []), { role: 'user', content: req.prompt }],
    }),
    text: (event) => {
      if (event.data === '[DONE]') return '';
      return parseEvent<{ choices?: { delta?: { content?: string | null } }[] }>(event).choices?.[0]?.delta?.content ?? '';
    },
  },
  anthropic: {
    path: (req) => `/${req.provider.id}/v1/messages`,
    body: (req) => ({
      model: req.model.id,
      stream: true,
      max_tokens: Math.min(req.model.max_completion_tokens ?? ANTHROPIC_MAX_TOKENS, ANTHROPIC_MAX_TOKENS),
      ...(req.system ? { system: req.system } : {}),
      messages: [{ role: 'user', content: req.prompt }],
    }),
    text: (event) => {
      const json = parseEvent<{ type?: string; delta?: { type?: string; text?: string } }>(event);
      return json.type === 'content_block_delta' && json.delta?.type === 'text_delta' ? (json.delta.text ?? '') : '';
    },
  },
  gemini: {
    path: (req) => `/${req.provider.id}/v1beta/models/${req.model.id}:streamGenerateContent?alt=sse`,
    body: (req) => ({
      contents: [{ role: 'user', parts: [{ text: req.prompt }] }],
      ...(req.system ? { systemInstruction: { parts: [{ text: req.system }] } } : {}),
    }),
    text: (event) => {
      const json = parseEvent<{ candidates?: { content?: { parts?: { text?: string }[] } }[] }>(event);
      return (json.candidates?.[0]?.content?.parts ?? []).map((part) => part.text ?? '').join('');
    },
  },
};

/** Send a chat request and hand each piece of the answer to `onText` as it streams in. */
export async function streamChat(req: ChatRequest, key: string, signal: AbortSignal, onText: (text: string) => void) {
  const dialect = DIALECTS[req.provider.protocol];
  const res = await fetch(dialect.path(req), {
    method: 'POST',
    headers: authorized(key, { 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify(dialect.body(req)),
    signal,
  });
  if (!res.ok) throw await gatewayFailure(res);
  if (!res.body || !res.headers.get('content-type')?.includes('text/event-stream')) {
    throw new ShownError('The provider answered without streaming; this page shows streamed answers only.');
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      const text = dialect.text(next.value);
      if (text) onText(text);
    }
  } finally {
    // Closes the connection when an error event ends the answer early; a no-op after the last event.
    await reader.cancel().catch(() => undefined);
  }
}

/** Generate one image; returns a URL the page can show (the provider's URL or a data: URL). */
export async function generateImage(req: ChatRequest, key: string, signal: AbortSignal): Promise<string> {
  if (req.provider.protocol !== 'openai') {
    throw new ShownError('This page generates images with OpenAI-compatible providers only (images/generations).');
  }
  const res = await fetch(`/${req.provider.id}/v1/images/generations`, {
    method: 'POST',
    headers: authorized(key, { 'content-type': 'application/json' }),
    body: JSON.stringify({ model: req.model.id, prompt: req.prompt, n: 1 }),
    signal,
  });
  if (!res.ok) throw await gatewayFailure(res);
  const image = ((await res.json()) as { data?: { url?: string; b64_json?: string }[] }).data?.[0];
  if (image?.b64_json) return `data:image/png;base64,${image.b64_json}`;
  if (image?.url) return image.url;
  throw new ShownError('The provider answered without an image.');
}
