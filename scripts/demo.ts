import type { AiConfig } from '../src/vault/schema';

// The embedded demo: every provider points at the local stand-in, which answers in that provider's
// real wire format. Used by `npm run dev` when no .dev.vars exists, and by the end-to-end tests.

export const DEMO_VAULT_TOKEN = 'demo-vault-token';
export const DEMO_USER_KEY = 'sy-demo-key';
export const DEMO_USERS = { demo: { key: DEMO_USER_KEY } };

export function demoConfig(standInUrl: string): AiConfig {
  const keys = (prefix: string) => [
    { key: `${prefix}-demo-key-1`, owner: 'demo', type: 'free' },
    { key: `${prefix}-demo-key-2`, owner: 'demo', type: 'free' },
  ];
  return {
    version: 1,
    providers: {
      groq: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        keys: keys('gsk'),
        models: [
          { id: 'llama-3.3-70b-versatile', usage: 'chat', contextWindow: 131072, maxOutputTokens: 32768, priority: 0 },
          { id: 'llama-3.1-8b-instant', usage: 'chat', contextWindow: 131072, maxOutputTokens: 8192, priority: 10 },
          { id: 'nomic-embed-text', usage: 'embedding', contextWindow: 8192, priority: 20 },
        ],
      },
      openai: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        keys: keys('sk'),
        models: [
          { id: 'gpt-4o-mini', usage: 'chat', contextWindow: 128000, maxOutputTokens: 16384, priority: 0 },
          { id: 'text-embedding-3-small', usage: 'embedding', contextWindow: 8191, priority: 10 },
          { id: 'gpt-image-1', usage: 'image-generation', priority: 20 },
          { id: 'gpt-4o-mini-tts', usage: 'tts', priority: 30 },
          { id: 'whisper-1', usage: 'transcription', priority: 40 },
        ],
      },
      anthropic: {
        protocol: 'anthropic',
        endpoint: `${standInUrl}/anthropic/v1`,
        keys: keys('sk-ant'),
        models: [{ id: 'claude-sonnet-4-5', usage: 'chat', contextWindow: 200000, maxOutputTokens: 64000, priority: 0 }],
      },
      gemini: {
        protocol: 'gemini',
        endpoint: `${standInUrl}/gemini/v1beta`,
        keys: keys('AIza'),
        models: [
          { id: 'gemini-2.5-flash', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 65536, priority: 0 },
          { id: 'text-embedding-004', usage: 'embedding', contextWindow: 2048, priority: 10 },
        ],
      },
    },
  };
}
