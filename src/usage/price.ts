import type { Model } from '../vault/schema';

// Cost from the vault's prices: USD per 1 000 000 tokens. A model without both an input and an
// output price is unpriced: its cost is null, never 0.

export interface TokenCounts {
  input: number;
  output: number;
  /** The part of `input` read from the provider's prompt cache (billed at cachedInputPrice). */
  cached: number;
}

export const isPriced = (model: Model | undefined): model is Model & { inputPrice: number; outputPrice: number } =>
  typeof model?.inputPrice === 'number' && typeof model.outputPrice === 'number';

/** The cost of these tokens with this model's prices, or null when it has none. */
export function costUsd(model: Model | undefined, tokens: TokenCounts): number | null {
  if (!isPriced(model)) return null;
  const cached = Math.min(tokens.cached, tokens.input);
  const cachedPrice = model.cachedInputPrice ?? model.inputPrice;
  const micro = (tokens.input - cached) * model.inputPrice + cached * cachedPrice + tokens.output * model.outputPrice;
  // Rounded to 1e-12 USD: sums of float products otherwise print as 0.000092000000001.
  return Math.round(micro * 1e6) / 1e12;
}

/** What is known of a request's cost before it is sent: the models that may answer and its size. */
export interface CostBound {
  models: (Model | undefined)[];
  bodyBytes: number;
  /** The output limit the request asked for, if any. */
  maxTokens?: number;
}

/** The output limit a request body asks for, in any protocol's field. */
export function requestedMaxTokens(json: Record<string, unknown> | undefined): number | undefined {
  if (!json) return undefined;
  const generation = json.generationConfig as { maxOutputTokens?: unknown } | undefined;
  for (const value of [json.max_tokens, json.max_completion_tokens, json.max_output_tokens, generation?.maxOutputTokens]) {
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.ceil(value);
  }
  return undefined;
}

/** Output tokens assumed for a request that names no limit and a model with none in the vault. */
export const DEFAULT_OUTPUT_ALLOWANCE = 4096;

/**
 * What a request may cost at most, reserved before it is sent: every byte of the body as an input
 * token (a token is never shorter than a byte, so this is an upper bound) and the output limit it
 * asked for (else the model's maxOutputTokens, else DEFAULT_OUTPUT_ALLOWANCE), priced with the
 * dearest of the models that may answer it.
 */
export function reservationFor({ models, bodyBytes, maxTokens }: CostBound): { usd: number; tokens: number } {
  let usd = 0;
  let output = maxTokens ?? 0;
  for (const model of models) {
    const allowance = maxTokens ?? model?.maxOutputTokens ?? DEFAULT_OUTPUT_ALLOWANCE;
    output = Math.max(output, allowance);
  }
  if (output === 0) output = DEFAULT_OUTPUT_ALLOWANCE;
  for (const model of models) usd = Math.max(usd, costUsd(model, { input: bodyBytes, output, cached: 0 }) ?? 0);
  return { usd, tokens: bodyBytes + output };
}
