import { testConfig } from './vault';

// The test vault with prices (USD per 1M tokens) on three models; gpt-4o-mini stays unpriced.

type Json = Record<string, any>;

export const PRICES = {
  groq: { inputPrice: 0.59, outputPrice: 0.79, cachedInputPrice: 0.295 },
  anthropic: { inputPrice: 3, outputPrice: 15, cachedInputPrice: 0.3 },
  gemini: { inputPrice: 0.1, outputPrice: 0.4, cachedInputPrice: 0.025 },
};

export function pricedConfig() {
  const config = testConfig() as { providers: Record<string, Json> };
  const price = (provider: string, model: string, prices: Json) => {
    const entry = (config.providers[provider]!.models as Json[]).find((m) => m.id === model)!;
    Object.assign(entry, prices);
  };
  price('groq', 'llama-3.3-70b-versatile', PRICES.groq);
  price('anthropic', 'claude-sonnet-4-5', PRICES.anthropic);
  price('gemini', 'gemini-2.0-flash', PRICES.gemini);
  return config;
}
