import { encryptVault } from '../../../src/vault/crypto';

/** The test project's AI_JSON_CRYPTOKEN (vitest.config.mts). */
export const VAULT_TOKEN = 'test-vault-token';

const sealed = new Map<string, Promise<string>>();

/**
 * Encrypt a config (object, or exact JSON text) with the vault token, as `openssl enc` would.
 * Memoised per plaintext: re-sealing the same config gives the same text (and skips 100 000 PBKDF2 rounds).
 * Pass `fresh: true` for a new salt, i.e. a new vault version with the same content.
 */
export function sealVault(config: unknown, options: { token?: string; fresh?: boolean } = {}): Promise<string> {
  const plaintext = typeof config === 'string' ? config : JSON.stringify(config, null, 2);
  const token = options.token ?? VAULT_TOKEN;
  if (options.fresh) return encryptVault(plaintext, token);
  const id = `${token}\n${plaintext}`;
  let text = sealed.get(id);
  if (!text) sealed.set(id, (text = encryptVault(plaintext, token)));
  return text;
}

type Json = Record<string, unknown>;

export const GATEWAY_COMPAT = 'https://gateway.ai.cloudflare.com/v1/{account}/default/compat';

/**
 * A vault naming every provider of the provider table with one or two fake keys and a model or two.
 * Keys are recognisable (`…-key-…`) so that tests can assert none leaks into a response.
 */
export function testConfig(): { version: number; providers: Record<string, Json> } {
  return {
    version: 1,
    providers: {
      groq: {
        protocol: 'openai',
        endpoint: 'https://api.groq.com/openai/v1',
        keys: [{ key: 'gsk-key-groq-1', owner: 'ronan', type: 'paid' }],
        models: [
          { id: 'llama-3.3-70b-versatile', usage: 'chat', contextWindow: 131072, maxOutputTokens: 32768, priority: 1 },
          { id: 'openai/gpt-oss-120b', usage: 'chat', contextWindow: 131072, maxOutputTokens: 65536, priority: 2 },
          { id: 'whisper-large-v3', usage: 'transcription' },
        ],
      },
      sambanova: {
        protocol: 'openai',
        endpoint: 'https://api.sambanova.ai/v1',
        keys: [{ key: 'sn-key-sambanova-1', type: 'free' }],
        models: [{ id: 'Meta-Llama-3.3-70B-Instruct', usage: 'chat', contextWindow: 131072, maxOutputTokens: 4096 }],
      },
      openai: {
        protocol: 'openai',
        endpoint: 'https://api.openai.com/v1',
        keys: [{ key: 'sk-key-openai-1', type: 'paid' }],
        models: [
          { id: 'gpt-4o-mini', usage: 'chat', contextWindow: 128000, maxOutputTokens: 16384 },
          { id: 'gpt-3.5-turbo-instruct', usage: 'chat' },
          { id: 'text-embedding-3-small', usage: 'embedding' },
          { id: 'dall-e-3', usage: 'image-generation' },
          { id: 'tts-1', usage: 'tts' },
          { id: 'whisper-1', usage: 'transcription' },
          { id: 'omni-moderation-latest' },
        ],
      },
      anthropic: {
        protocol: 'anthropic',
        endpoint: 'https://api.anthropic.com/v1',
        keys: [{ key: 'sk-ant-key-anthropic-1', type: 'premium' }],
        models: [{ id: 'claude-sonnet-4-5', usage: 'chat', contextWindow: 200000, maxOutputTokens: 64000 }],
      },
      gemini: {
        protocol: 'gemini',
        endpoint: 'https://generativelanguage.googleapis.com/v1beta',
        keys: [{ key: 'AIza-key-gemini-1', type: 'free' }],
        models: [
          { id: 'gemini-2.0-flash', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 8192 },
          { id: 'text-embedding-004', usage: 'embedding' },
        ],
      },
      mistral: {
        protocol: 'mistral',
        endpoint: 'https://api.mistral.ai/v1/chat/completions',
        keys: [{ key: 'ms-key-mistral-1' }],
        models: [{ id: 'mistral-small-latest', usage: 'chat', contextWindow: 32000 }],
      },
    },
  };
}

/** Every provider key in a config, for "no key in any response" assertions. */
export function keysOf(config: { providers: Record<string, Json> }): string[] {
  return Object.values(config.providers).flatMap((p) => ((p.keys as { key: string }[] | undefined) ?? []).map((k) => k.key));
}

let uniqueCount = 0;
/**
 * A provider id no other test of this isolate has used, so per-isolate key state (round-robin cursor,
 * keys resting after a failure) starts fresh for it.
 */
export function uniqueProviderId(prefix = 'p'): string {
  return `${prefix}-${++uniqueCount}-${Math.random().toString(36).slice(2, 8)}`;
}
