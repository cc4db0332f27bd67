import * as z from 'zod';

// Every object is loose: fields this project does not know survive a read-modify-write.

const isoDate = z.string().refine((value) => !Number.isNaN(Date.parse(value)), { message: 'must be an ISO 8601 date' });

export const ProviderKey = z.looseObject({
  key: z.string().min(1, 'a key must not be empty'),
  owner: z.string().optional(),
  type: z.string().optional(),
  expiresAt: isoDate.optional(),
});

export const ModelUsage = z.enum(['chat', 'embedding', 'image-generation', 'transcription', 'tts']);

export const Model = z.looseObject({
  id: z.string().min(1),
  usage: ModelUsage.optional(),
  contextWindow: z.number().int().positive().nullable().optional(),
  maxOutputTokens: z.number().int().positive().nullable().optional(),
  tpmLimit: z.number().nonnegative().nullable().optional(),
  priority: z.number().optional(),
  tags: z.array(z.string()).optional(),
  /** Seconds an answer of this model is cached when the request names no X-Switchyard-Cache-Ttl (0 to 86 400). */
  cacheTtl: z.number().int().min(0).max(86_400).optional(),
  /** Prices in USD per 1 000 000 tokens; a model without input and output prices is unpriced. */
  inputPrice: z.number().nonnegative().optional(),
  outputPrice: z.number().nonnegative().optional(),
  /** Input tokens read from the provider's prompt cache (default: inputPrice). */
  cachedInputPrice: z.number().nonnegative().optional(),
});

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Where provider keys are sent: https without userinfo; http only for a loopback host (stand-ins in
 * local development), so a key never travels in clear text and the host is the one it reads as.
 */
export const providerUrl = z.string().superRefine((value, ctx) => {
  let url: URL | undefined;
  try {
    url = /^https?:\/\/[^\s/]+/.test(value) ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url) {
    ctx.addIssue({ code: 'custom', message: 'must be an https URL' });
  } else if (url.username || url.password || /^https?:\/\/[^/?#]*@/.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'must not carry userinfo (user@ or user:password@ before the host)' });
  } else if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: 'must be https (http only for a loopback host: 127.0.0.1, localhost, [::1])' });
  }
});

export const Provider = z.looseObject({
  protocol: z.string().min(1),
  endpoint: providerUrl,
  gatewayEndpoint: providerUrl.optional(),
  gatewayModelPrefix: z.string().min(1).optional(),
  /** An OpenAI-protocol provider that serves the Responses API (default: known for openai). */
  responsesApi: z.boolean().optional(),
  /**
   * Let clients keep state at the provider under its shared keys (the provider's `store`,
   * `previous_response_id`, `conversation`, `prompt.id`, file ids…): the operator's explicit choice.
   * Default: refused, and Responses and Chat Completions go with `store: false` (forward/provider-state.ts).
   */
  providerState: z.boolean().optional(),
  /**
   * A hosted tool the provider cannot run (web search on an OpenAI-compatible provider other than
   * OpenAI): `drop` (default) sends the request without it and says so in X-Switchyard-Dropped-Tools;
   * `refuse` answers 400 naming the tool.
   */
  hostedTools: z.enum(['drop', 'refuse'], { error: 'hostedTools is "drop" or "refuse"' }).optional(),
  /** Operations forwarded beyond the protocol's table (`files`, `POST batches`): the operator's explicit choice. */
  operations: z
    .array(
      z.string().regex(/^\s*(?:[A-Za-z]+\s+)?\/?[A-Za-z0-9_\-:./]+\s*$/, 'an operation is a path such as "files", optionally after a method: "POST batches"'),
    )
    .optional(),
  keys: z.array(ProviderKey).default([]),
  models: z.array(Model).default([]),
});

/** How the providers listing one model are ordered (README, "Routing"). */
export const Routing = z.enum(['priority', 'latency', 'weighted']);

/**
 * A model route: the setting of the fallback chain formed by every provider that lists one model id.
 * `priority` (default): lower model `priority` first; `latency`: among providers of equal priority, the
 * lowest recent time to first byte first; `weighted`: the first provider drawn by `weights` (a share per
 * provider id, any positive numbers), the same for every retry of one request id.
 */
export const ModelRoute = z
  .looseObject({
    routing: Routing.optional(),
    weights: z.record(z.string(), z.number().nonnegative()).optional(),
  })
  .refine((route) => route.routing !== 'weighted' || Object.values(route.weights ?? {}).some((weight) => weight > 0), {
    message: 'a weighted route needs weights with at least one provider above 0',
    path: ['weights'],
  });

export const AiConfig = z.looseObject({
  version: z.number().optional(),
  providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'provider ids are lowercase [a-z0-9_-]'), Provider),
  /** Model routes by model id (the bare id every provider of the chain lists). */
  routes: z.record(z.string().min(1), ModelRoute).optional(),
});

/**
 * A user of the `users` map. Written by hand it carries its `key`; created through the operator API
 * it carries `keySha256` (hex SHA-256 of the key) and `keyHint` (the key's last 4 characters) instead.
 */
export const UserFields = z.looseObject({
  /**
   * The user's stable id, never reused: meters, usage records, stored responses and cache scopes hang
   * off it, so a user deleted and created again under the same name starts empty. Given by the users
   * directory (src/users/directory.ts) on creation, or on first sight of a hand-written user.
   */
  id: z.string().min(1).max(128).optional(),
  key: z.string().min(1).optional(),
  keySha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256')
    .optional(),
  keyHint: z.string().max(8).optional(),
  rpm: z.number().int().positive().optional(),
  providers: z.array(z.string()).optional(),
  models: z.array(z.string()).optional(),
  disabled: z.boolean().optional(),
  expiresAt: isoDate.optional(),
  /** USD per UTC calendar month (README, "Usage and budgets"). */
  monthlyBudgetUsd: z.number().nonnegative().optional(),
  /** Input + output tokens per UTC day. */
  dailyTokens: z.number().int().nonnegative().optional(),
});

export const User = UserFields.refine((user) => user.key !== undefined || user.keySha256 !== undefined, {
  message: 'a user needs a key (or keySha256)',
  path: ['key'],
});

export const Users = z.record(z.string(), User);

export type ProviderKey = z.infer<typeof ProviderKey>;
export type Model = z.infer<typeof Model>;
export type ModelUsage = z.infer<typeof ModelUsage>;
export type Provider = z.infer<typeof Provider>;
export type AiConfig = z.infer<typeof AiConfig>;
export type Routing = z.infer<typeof Routing>;
export type ModelRoute = z.infer<typeof ModelRoute>;
export type User = z.infer<typeof User>;
export type Users = z.infer<typeof Users>;

/** One line per problem, with the JSON path, for error messages a person can act on. */
export function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
