import type { AiConfig } from '../src/vault/schema';
import { demoVault } from '../dev/demo-vault';

// The embedded demo: the end-to-end tests' vault (groq, anthropic, gemini on the stand-in provider)
// plus an OpenAI entry for the image, speech, transcription and moderation examples of the README.

export const DEMO_VAULT_TOKEN = 'demo-vault-token';
export const DEMO_USER_KEY = 'sy-demo-key';
export const DEMO_USERS = { demo: { key: DEMO_USER_KEY } };

export function demoConfig(standInUrl: string): AiConfig {
  const base = demoVault(standInUrl);
  return {
    ...base,
    providers: {
      ...base.providers,
      openai: {
        protocol: 'openai',
        endpoint: `${standInUrl}/openai/v1`,
        keys: [{ key: 'sk-standin-openai-key-1', owner: 'demo', type: 'paid' }],
        models: [
          { id: 'gpt-4o-mini', usage: 'chat', contextWindow: 128000, maxOutputTokens: 16384, priority: 0 },
          { id: 'text-embedding-3-small', usage: 'embedding', contextWindow: 8191, priority: 10 },
          { id: 'gpt-image-1', usage: 'image-generation', priority: 20 },
          { id: 'gpt-4o-mini-tts', usage: 'tts', priority: 30 },
          { id: 'whisper-1', usage: 'transcription', priority: 40 },
        ],
      },
    },
  };
}
