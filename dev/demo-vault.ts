import type { AiConfig, Users } from '../src/vault/schema';

// A vault and users that point every provider at the stand-in providers (dev/stand-ins).

export interface DemoVaultOptions {
  /**
   * Reach every provider through the stand-in AI Gateway (`…/gateway/v1/{account}/default/compat`):
   * the gateway uses it when CLOUDFLARE_AIG_TOKEN and CLOUDFLARE_ACCOUNT_ID are set.
   */
  viaGateway?: boolean;
}

export function demoVault(standInUrl: string, options: DemoVaultOptions = {}): AiConfig {
  const gateway = (prefix: string) =>
    options.viaGateway ? { gatewayEndpoint: `${standInUrl}/gateway/v1/{account}/default/compat`, gatewayModelPrefix: prefix } : {};
  return {
    version: 1,
    providers: {
      groq: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        ...gateway('groq'),
        keys: [
          { key: 'gsk_standin_groq_key_1', owner: 'demo', type: 'free' },
          { key: 'gsk_standin_groq_key_2', owner: 'demo', type: 'paid' },
        ],
        models: [
          { id: 'llama-3.3-70b-versatile', usage: 'chat', contextWindow: 131072, maxOutputTokens: 32768, tpmLimit: null, priority: 1, tags: ['fast'] },
          { id: 'llama-3.1-8b-instant', usage: 'chat', contextWindow: 131072, maxOutputTokens: 8192, priority: 2 },
          { id: 'nomic-embed-text-v1.5', usage: 'embedding', contextWindow: 8192, priority: 1 },
        ],
      },
      anthropic: {
        protocol: 'anthropic',
        endpoint: `${standInUrl}/anthropic/v1`,
        ...gateway('anthropic'),
        keys: [
          { key: 'sk-ant-standin-key-1', owner: 'demo', type: 'paid' },
          { key: 'sk-ant-standin-key-2', owner: 'demo', type: 'paid' },
        ],
        models: [
          { id: 'claude-sonnet-5', usage: 'chat', contextWindow: 200000, maxOutputTokens: 64000, priority: 1 },
          { id: 'claude-haiku-4-5-20251001', usage: 'chat', contextWindow: 200000, maxOutputTokens: 64000, priority: 2 },
        ],
      },
      gemini: {
        protocol: 'gemini',
        endpoint: `${standInUrl}/gemini/v1beta`,
        ...gateway('google-ai-studio'),
        keys: [
          { key: 'AIza-standin-gemini-key-1', owner: 'demo', type: 'free' },
          { key: 'AIza-standin-gemini-key-2', owner: 'demo', type: 'free' },
        ],
        models: [
          { id: 'gemini-2.0-flash', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 8192, priority: 1 },
          { id: 'gemini-2.5-flash', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 65536, priority: 2 },
          { id: 'gemini-3-pro-preview', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 65536, priority: 3 },
          { id: 'text-embedding-004', usage: 'embedding', contextWindow: 2048, priority: 1 },
        ],
      },
    },
  };
}

/** Two users: `ronan` may use everything, `audrey` only groq's 70b model at 30 requests a minute. */
export function demoUsers() {
  return {
    ronan: { key: 'sy-standin-user-ronan' },
    audrey: { key: 'sy-standin-user-audrey', rpm: 30, providers: ['groq'], models: ['groq/llama-3.3-70b-versatile'] },
  } satisfies Users;
}
