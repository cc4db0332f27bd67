// "Refresh from API": ask a provider for its model list, straight from the browser with the
// provider's first usable key, and merge what it lists into the vault's models.
import { usableKeys } from '../../providers/lookup';
import { endpointBase } from '../../providers/endpoint';
import { PROVIDERS, type WireProtocol, wireProtocol } from '../../providers/table';
import type { Model, ModelUsage, Provider } from '../../vault/schema';
import { errorDetail, ShownError } from '../shared/errors';

export interface DiscoveredModel {
  id: string;
  usage: ModelUsage;
  contextWindow?: number;
  maxOutputTokens?: number;
  /** USD per 1 000 000 tokens, where the list gives prices (OpenRouter's `pricing`, USD per token). */
  inputPrice?: number;
  outputPrice?: number;
  cachedInputPrice?: number;
}

/** A per-token price as OpenRouter lists it ("0.000003") in USD per 1M tokens (3); negative = variable, none. */
function perMillion(value: unknown): number | undefined {
  const perToken = typeof value === 'string' || typeof value === 'number' ? Number(value) : Number.NaN;
  if (!Number.isFinite(perToken) || perToken < 0) return undefined;
  // Rounded to 1e-6 USD per 1M: the strings' binary fractions otherwise give 3.0000000000000004.
  return Math.round(perToken * 1e12) / 1e6;
}

function prices(pricing: unknown): Pick<DiscoveredModel, 'inputPrice' | 'outputPrice' | 'cachedInputPrice'> {
  if (typeof pricing !== 'object' || pricing === null) return {};
  const listed = pricing as Record<string, unknown>;
  const [inputPrice, outputPrice, cachedInputPrice] = [perMillion(listed.prompt), perMillion(listed.completion), perMillion(listed.input_cache_read)];
  if (inputPrice === undefined || outputPrice === undefined) return {};
  return { inputPrice, outputPrice, ...(cachedInputPrice !== undefined ? { cachedInputPrice } : {}) };
}

interface Page {
  models: DiscoveredModel[];
  /** Where the next page is, when the provider paginates. */
  next?: string;
}

/** Enough pages for any real provider; a loop that never ends is a provider bug, not a model list. */
const MAX_PAGES = 20;

const positiveInt = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined);

/** What a model is for, from its id (and Gemini's generation methods). */
export function classifyModel(id: string, generationMethods: string[] = []): ModelUsage {
  if (generationMethods.some((m) => /embed/i.test(m)) || /embed/i.test(id)) return 'embedding';
  if (/whisper|transcri/i.test(id)) return 'transcription';
  if (/(^|[-_/])tts|speech/i.test(id)) return 'tts';
  if (/dall-e|gpt-image|imagen|flux|stable-diffusion|sdxl/i.test(id)) return 'image-generation';
  return 'chat';
}

type ListedModel = Record<string, unknown> & { top_provider?: Record<string, unknown> };

const PARSERS: Record<WireProtocol, (json: Record<string, unknown>, url: URL) => Page> = {
  openai: (json) => ({
    models: ((json.data ?? []) as ListedModel[]).map((m) => ({
      id: String(m.id),
      usage: classifyModel(String(m.id)),
      contextWindow: positiveInt(m.context_window ?? m.context_length ?? m.max_context_length ?? m.top_provider?.context_length),
      maxOutputTokens: positiveInt(m.max_completion_tokens ?? m.top_provider?.max_completion_tokens),
      ...prices(m.pricing),
    })),
  }),
  anthropic: (json, url) => {
    const data = (json.data ?? []) as ListedModel[];
    const next = new URL(url);
    next.searchParams.set('after_id', String(data.at(-1)?.id));
    return {
      models: data.map((m) => ({
        id: String(m.id),
        usage: classifyModel(String(m.id)),
        contextWindow: positiveInt(m.max_input_tokens),
        maxOutputTokens: positiveInt(m.max_tokens),
      })),
      next: json.has_more === true && data.length > 0 ? next.href : undefined,
    };
  },
  gemini: (json, url) => {
    const next = new URL(url);
    next.searchParams.set('pageToken', String(json.nextPageToken));
    return {
      models: ((json.models ?? []) as ListedModel[]).map((m) => {
        const id = String(m.name).replace(/^models\//, '');
        return {
          id,
          usage: classifyModel(id, (m.supportedGenerationMethods ?? []) as string[]),
          contextWindow: positiveInt(m.inputTokenLimit),
          maxOutputTokens: positiveInt(m.outputTokenLimit),
        };
      }),
      next: typeof json.nextPageToken === 'string' && json.nextPageToken ? next.href : undefined,
    };
  },
};

/** The first URL of the provider's model list and the headers that authenticate it. */
export function modelListRequest(providerId: string, provider: Provider, key: string): { url: string; headers: Record<string, string> } {
  const base = endpointBase(provider.endpoint);
  switch (wireProtocol(provider.protocol)) {
    case 'anthropic':
      return {
        url: `${base}/models?limit=1000`,
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true' },
      };
    case 'gemini':
      return { url: `${base}/models?pageSize=1000&key=${encodeURIComponent(key)}`, headers: {} };
    case 'openai': {
      const facts = PROVIDERS[providerId] ?? PROVIDERS[provider.protocol.toLowerCase()];
      return { url: `${base}${facts?.modelsPath ?? '/models'}`, headers: { authorization: `Bearer ${key}` } };
    }
  }
}

/** Every model the provider lists. Throws a ShownError saying why when the provider refuses. */
export async function discoverModels(providerId: string, provider: Provider): Promise<DiscoveredModel[]> {
  const key = usableKeys(provider.keys)[0];
  if (!key) throw new ShownError(`${providerId} has no usable key to ask for its model list: add one first.`);
  const { url, headers } = modelListRequest(providerId, provider, key.key);
  const host = new URL(url).host;
  const parse = PARSERS[wireProtocol(provider.protocol)];
  const found: DiscoveredModel[] = [];
  let next: string | undefined = url;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    let res: Response;
    try {
      res = await fetch(next, { headers });
    } catch {
      throw new ShownError(
        `${host} did not let this page read its model list (the browser blocked the request: CORS, or the host is unreachable). Nothing was changed.`,
      );
    }
    if (!res.ok) {
      throw new ShownError(`${host} refused to list its models (${res.status}: ${await errorDetail(res)}). Nothing was changed.`);
    }
    let json: Record<string, unknown>;
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new ShownError(`${host} answered, but not with a JSON model list. Nothing was changed.`);
    }
    const parsed = parse(json, new URL(next));
    found.push(...parsed.models);
    next = parsed.next;
  }
  return found;
}

export interface Merge {
  /** The vault's models in their order, then the new ones in the provider's order. */
  models: Model[];
  added: string[];
  /** Known models whose missing usage or limits were filled in from the list. */
  completed: string[];
  /** Known models the provider does not list (kept: the vault's word wins). */
  unlisted: string[];
}

/** Known models keep their place and their values; new ones are appended. */
export function mergeModels(known: Model[], found: DiscoveredModel[]): Merge {
  const listed = new Map(found.map((model) => [model.id, model]));
  const completed: string[] = [];
  for (const model of known) {
    const fresh = listed.get(model.id);
    if (!fresh) continue;
    let filled = false;
    if (model.usage === undefined) {
      model.usage = fresh.usage;
      filled = true;
    }
    if (model.contextWindow == null && fresh.contextWindow !== undefined) {
      model.contextWindow = fresh.contextWindow;
      filled = true;
    }
    if (model.maxOutputTokens == null && fresh.maxOutputTokens !== undefined) {
      model.maxOutputTokens = fresh.maxOutputTokens;
      filled = true;
    }
    // Prices are filled as a set, and only where the vault has none: an operator's price wins.
    if (model.inputPrice === undefined && model.outputPrice === undefined && fresh.inputPrice !== undefined) {
      model.inputPrice = fresh.inputPrice;
      model.outputPrice = fresh.outputPrice;
      if (fresh.cachedInputPrice !== undefined) model.cachedInputPrice = fresh.cachedInputPrice;
      filled = true;
    }
    if (filled) completed.push(model.id);
  }
  const knownIds = new Set(known.map((model) => model.id));
  const added = [...listed.values()].filter((model) => !knownIds.has(model.id));
  return {
    models: [
      ...known,
      ...added.map(({ id, usage, contextWindow, maxOutputTokens, inputPrice, outputPrice, cachedInputPrice }) => ({
        id,
        usage,
        ...(contextWindow !== undefined ? { contextWindow } : {}),
        ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
        ...(inputPrice !== undefined ? { inputPrice, outputPrice } : {}),
        ...(cachedInputPrice !== undefined ? { cachedInputPrice } : {}),
      })),
    ],
    added: added.map((model) => model.id),
    completed,
    unlisted: known.filter((model) => !listed.has(model.id)).map((model) => model.id),
  };
}
