// One row of facts per known provider (see shared/PROVIDERS.md). A vault may name providers that are
// not in this table; they are served by their vault entry alone (protocol + endpoint).

export type WireProtocol = 'openai' | 'anthropic' | 'gemini';

export interface ProviderFacts {
  /** Host of the provider's own API: the legacy `X-Host-Final` form selects the provider by it. */
  host: string;
  protocol: WireProtocol;
  /** The provider's API base, used when the vault entry has no endpoint of its own. */
  apiBase: string;
  /** AI Gateway provider slug (`…/{gateway}/{slug}/…`). */
  gatewaySlug: string;
  /** What AI Gateway puts between the slug and the operation: `anthropic/v1/messages`, `groq/chat/completions`. */
  gatewayVersionPath: string;
  /** Model listing, relative to the API base. */
  modelsPath: string;
  /** The provider serves the OpenAI Responses API (`POST …/responses`): /v1/responses passes through. */
  responsesApi?: boolean;
  /** The provider runs its own web search for Chat Completions' `web_search_options` (unified/hosted-tools.ts). */
  webSearchOptions?: boolean;
}

export const PROVIDERS: Record<string, ProviderFacts> = {
  groq: {
    host: 'api.groq.com',
    protocol: 'openai',
    apiBase: 'https://api.groq.com/openai/v1',
    gatewaySlug: 'groq',
    gatewayVersionPath: '',
    modelsPath: '/models',
  },
  sambanova: {
    host: 'api.sambanova.ai',
    protocol: 'openai',
    apiBase: 'https://api.sambanova.ai/v1',
    gatewaySlug: 'custom-sambanova',
    gatewayVersionPath: '',
    modelsPath: '/models',
  },
  openai: {
    host: 'api.openai.com',
    protocol: 'openai',
    apiBase: 'https://api.openai.com/v1',
    gatewaySlug: 'openai',
    gatewayVersionPath: '',
    modelsPath: '/models',
    responsesApi: true,
    webSearchOptions: true,
  },
  anthropic: {
    host: 'api.anthropic.com',
    protocol: 'anthropic',
    apiBase: 'https://api.anthropic.com/v1',
    gatewaySlug: 'anthropic',
    gatewayVersionPath: 'v1/',
    modelsPath: '/models',
  },
  gemini: {
    host: 'generativelanguage.googleapis.com',
    protocol: 'gemini',
    apiBase: 'https://generativelanguage.googleapis.com/v1beta',
    gatewaySlug: 'google-ai-studio',
    gatewayVersionPath: 'v1beta/',
    modelsPath: '/models',
  },
  mistral: {
    host: 'api.mistral.ai',
    protocol: 'openai',
    apiBase: 'https://api.mistral.ai/v1',
    gatewaySlug: 'mistral',
    gatewayVersionPath: 'v1/',
    modelsPath: '/models',
  },
  openrouter: {
    host: 'openrouter.ai',
    protocol: 'openai',
    apiBase: 'https://openrouter.ai/api/v1',
    gatewaySlug: 'openrouter',
    gatewayVersionPath: '',
    modelsPath: '/models?output_modalities=all',
  },
  morph: {
    host: 'api.morphllm.com',
    protocol: 'openai',
    apiBase: 'https://api.morphllm.com/v1',
    gatewaySlug: 'custom-morph',
    gatewayVersionPath: '',
    modelsPath: '/models',
  },
};

/** Other names clients use for a provider. */
export const PROVIDER_ALIASES: Record<string, string> = { 'sambanova-ai': 'sambanova' };

const PROVIDER_BY_HOST = new Map(Object.entries(PROVIDERS).map(([id, facts]) => [facts.host, id]));

/** Canonical provider id for a name from a URL (case-insensitive, aliases resolved). */
export function canonicalProviderId(name: string): string {
  const lower = name.toLowerCase();
  return PROVIDER_ALIASES[lower] ?? lower;
}

/** The provider id for a legacy `X-Host-Final` header value, or undefined when the host is not in the table. */
export function providerForHost(hostHeader: string): string | undefined {
  const host = hostHeader
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/[/:].*$/, '');
  return PROVIDER_BY_HOST.get(host);
}

/** Whether a provider serves the Responses API: the vault's `responsesApi` when set, else this table. */
export function speaksResponsesApi(providerId: string, provider: { protocol: string; responsesApi?: boolean }): boolean {
  if (wireProtocol(provider.protocol) !== 'openai') return false;
  return provider.responsesApi ?? PROVIDERS[providerId]?.responsesApi ?? false;
}

/** Whether an OpenAI-protocol provider runs Chat Completions' `web_search_options` (only OpenAI itself). */
export const servesWebSearchOptions = (providerId: string) => PROVIDERS[providerId]?.webSearchOptions ?? false;

/** The wire protocol a vault `protocol` value stands for: OpenAI-compatible names all speak `openai`. */
export function wireProtocol(protocol: string): WireProtocol {
  const lower = protocol.toLowerCase();
  return lower === 'anthropic' || lower === 'gemini' ? lower : 'openai';
}
