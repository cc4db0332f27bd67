import type { Bindings } from '../env';
import { EMBEDDED_VAULT } from '../generated/embedded-vault';
import { GatewayError } from '../middleware/errors';
import { decryptVault, VaultCryptoError } from './crypto';
import { AiConfig, describeIssues } from './schema';

export const VAULT_KEY = 'vault:ai.json.enc';
export const PREVIOUS_VAULT_KEY = 'vault:ai.json.enc:previous';

/** How long an isolate trusts its copy of the vault text before reading KV again. */
export const VAULT_TEXT_CACHE_MS = 10_000;

export interface LoadedVault {
  text: string;
  plaintext: string;
  config: AiConfig;
}

let textCache: { text: Promise<string | null>; at: number } | undefined;
// Decrypting costs 100 000 PBKDF2 rounds: done once per (vault text, token) per isolate. The text
// itself is the cache key: comparing it costs less than hashing it on every request.
let decrypted: { text: string; token: string; vault: Promise<LoadedVault> } | undefined;

/** The stored vault text: KV first, then the vault embedded at build time, else null. */
export async function readVaultText(env: Bindings): Promise<string | null> {
  if (!textCache || Date.now() - textCache.at > VAULT_TEXT_CACHE_MS) {
    const text = env.KV_AI_PROXY.get(VAULT_KEY).then((stored) => stored ?? EMBEDDED_VAULT);
    textCache = { text, at: Date.now() };
    text.catch(() => {
      textCache = undefined;
    });
  }
  return textCache.text;
}

/** Decrypt and validate a vault text; errors say what is wrong in words, never echoing content. */
export async function openVault(text: string, token: string): Promise<LoadedVault> {
  let plaintext: string;
  try {
    plaintext = await decryptVault(text, token);
  } catch (err) {
    if (err instanceof VaultCryptoError) throw new GatewayError(422, err.message, `vault_${err.reason.replace(/-/g, '_')}`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(plaintext);
  } catch {
    throw new GatewayError(422, 'vault decrypts, but its content is not JSON', 'vault_not_json');
  }
  const parsed = AiConfig.safeParse(json);
  if (!parsed.success) {
    throw new GatewayError(422, `vault JSON is not a valid AiConfig: ${describeIssues(parsed.error)}`, 'vault_invalid');
  }
  return { text, plaintext, config: parsed.data };
}

/** The current vault, decrypted: cached per isolate by its text. */
export async function loadVault(env: Bindings): Promise<LoadedVault> {
  const token = env.AI_JSON_CRYPTOKEN;
  if (!token) throw new GatewayError(503, 'AI_JSON_CRYPTOKEN is not set on this deployment', 'vault_token_unset');
  const text = await readVaultText(env);
  if (text === null) {
    throw new GatewayError(503, 'no vault is stored yet: PUT one to /ai.json.enc', 'vault_missing');
  }
  if (!decrypted || decrypted.text !== text || decrypted.token !== token) {
    const vault = openVault(text, token).catch((err: unknown) => {
      // A text that does not open never will: its failure stays cached with it, so a broken vault
      // costs one PBKDF2 run per version, not one per request.
      if (err instanceof GatewayError) {
        throw new GatewayError(500, `the stored vault cannot be used: ${err.message}`, err.code);
      }
      decrypted = undefined;
      throw err;
    });
    decrypted = { text, token, vault };
  }
  return decrypted.vault;
}

/**
 * Forget the vault text read from KV, so the next request reads KV again (tests, like `clearUsersCache`).
 * The decrypted config stays cached under its text, as it does in production.
 */
export function clearVaultCache() {
  textCache = undefined;
}

export async function loadConfig(env: Bindings): Promise<AiConfig> {
  return (await loadVault(env)).config;
}

/** Validate `text` with the token, keep the replaced text as the previous version, then store it. */
export async function storeVault(env: Bindings, text: string): Promise<LoadedVault> {
  const token = env.AI_JSON_CRYPTOKEN;
  if (!token) throw new GatewayError(503, 'AI_JSON_CRYPTOKEN is not set on this deployment', 'vault_token_unset');
  const vault = await openVault(text, token);
  const replaced = await env.KV_AI_PROXY.get(VAULT_KEY);
  if (replaced !== null) await env.KV_AI_PROXY.put(PREVIOUS_VAULT_KEY, replaced);
  await env.KV_AI_PROXY.put(VAULT_KEY, text);
  textCache = { text: Promise.resolve(text), at: Date.now() };
  decrypted = { text, token, vault: Promise.resolve(vault) };
  return vault;
}
