import type { Bindings } from '../env';
import { GatewayError } from '../errors';
import { endpointBase } from '../providers/endpoint';
import { ADAPTERS } from '../protocols/registry';
import { listsModel } from '../providers/lookup';
import { PROVIDERS, wireProtocol } from '../providers/table';
import type { Provider } from '../vault/schema';

// Where a request goes and with which headers: AI Gateway when the provider has a gatewayEndpoint and
// CLOUDFLARE_AIG_TOKEN is set, otherwise the provider's own endpoint. URLs are built as strings:
// parsing the `{account}` template with `URL` would percent-encode its braces and never substitute.

export interface Target {
  url: string;
  headers: Record<string, string>;
  /** Set when the body's model must be renamed: `prefix/model` for AI Gateway's unified endpoint, the bare id elsewhere. */
  model?: string;
  via: 'gateway' | 'direct';
}

export interface TargetInput {
  providerId: string;
  provider: Provider;
  /** Path after the API base, e.g. `chat/completions` or `models/gemini-2.0-flash:generateContent`. */
  operation: string;
  /** The query string of the client's request, with its `?`, or ''. */
  search: string;
  key: string;
  /** The model named by the request, when there is one. */
  model?: string;
  incoming: Headers;
  env: Bindings;
}

export function gatewaySlug(providerId: string, provider: Provider): string {
  return provider.gatewayModelPrefix ?? PROVIDERS[providerId]?.gatewaySlug ?? `custom-${providerId}`;
}

/**
 * Query parameters that may go upstream: Gemini's `alt` (`alt=sse` streams), Anthropic's `beta`
 * (Claude Code sends `?beta=true`), Azure-style `api-version`, and the paging of GET models. Anything
 * else stays here: Gemini's `key` and `access_token` are credentials, and a client's credential
 * refused upstream would look like a failure of the operator's key.
 */
const QUERY_TO_PROVIDER = new Set(['alt', 'beta', 'api-version', 'limit', 'after', 'after_id', 'before_id', 'pageSize', 'pageToken', 'output_modalities']);

/** The client's query string with allow-listed parameters only. */
function allowedQuery(search: string): string {
  if (search === '') return search;
  const params = new URLSearchParams(search);
  for (const name of [...params.keys()]) if (!QUERY_TO_PROVIDER.has(name)) params.delete(name);
  const rest = params.toString();
  return rest ? `?${rest}` : '';
}

/**
 * The vault id a model given in AI Gateway's `<prefix>/<model>` form stands for, for calls that want
 * the provider's own id (a vault id that itself starts with the prefix is left as it is).
 */
function unprefixed(provider: Provider, slug: string, model: string | undefined): string | undefined {
  if (!model?.startsWith(`${slug}/`) || listsModel(provider, model)) return undefined;
  const bare = model.slice(slug.length + 1);
  return listsModel(provider, bare) ? bare : undefined;
}

export function buildTarget(input: TargetInput): Target {
  const { provider, providerId, operation, env } = input;
  const search = allowedQuery(input.search);
  const auth = ADAPTERS[wireProtocol(provider.protocol)].authHeaders(input.key, input.incoming);
  const slug = gatewaySlug(providerId, provider);
  const providerModel = unprefixed(provider, slug, input.model);
  if (!provider.gatewayEndpoint || !env.CLOUDFLARE_AIG_TOKEN) {
    return { url: `${endpointBase(provider.endpoint)}/${operation}${search}`, headers: auth, model: providerModel, via: 'direct' };
  }

  let gateway = provider.gatewayEndpoint.replace(/\/+$/, '');
  if (gateway.includes('{account}')) {
    if (!env.CLOUDFLARE_ACCOUNT_ID) {
      throw new GatewayError(500, `CLOUDFLARE_ACCOUNT_ID is not set, but ${providerId}'s gatewayEndpoint needs it`, 'gateway_account_unset');
    }
    gateway = gateway.replaceAll('{account}', env.CLOUDFLARE_ACCOUNT_ID);
  }
  const headers = { ...auth, 'cf-aig-authorization': `Bearer ${env.CLOUDFLARE_AIG_TOKEN}` };
  const versionPath = PROVIDERS[providerId]?.gatewayVersionPath ?? '';

  if (!gateway.endsWith('/compat')) {
    // A provider-native gateway URL (`…/{gateway}/{slug}`): operations append to it.
    return { url: `${gateway}/${versionPath}${operation}${search}`, headers, model: providerModel, via: 'gateway' };
  }
  if (/(?:^|\/)chat\/completions$/.test(operation)) {
    // The unified endpoint speaks OpenAI for every provider: Bearer auth, model `<prefix>/<model>`.
    // A model is already in that form when it starts with the prefix and is not a vault id as it is
    // (Groq's own `groq/compound` still becomes `groq/groq/compound`).
    const model = input.model;
    const prefixed = model?.startsWith(`${slug}/`) && !listsModel(provider, model);
    return {
      url: `${gateway}/chat/completions${search}`,
      headers: { authorization: `Bearer ${input.key}`, 'cf-aig-authorization': headers['cf-aig-authorization'] },
      model: model && !prefixed ? `${slug}/${model}` : undefined,
      via: 'gateway',
    };
  }
  const gatewayRoot = gateway.slice(0, -'/compat'.length);
  return { url: `${gatewayRoot}/${slug}/${versionPath}${operation}${search}`, headers, model: providerModel, via: 'gateway' };
}
