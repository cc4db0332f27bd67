import type { Bindings } from '../env';
import { EMBEDDED_VAULT } from '../generated/embedded-vault';
import { GatewayError } from '../errors';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';
import { fromStore, storeUnavailable, withinMs } from '../store-call';
import { decryptVault, digestText, VaultCryptoError } from './crypto';
import { AiConfig, describeIssues } from './schema';
import { VAULT_KEY } from './keys';
import { vaultWriter, type VaultWrite } from './writer';

export { PREVIOUS_VAULT_KEY, VAULT_KEY } from './keys';

/** How long an isolate trusts its copy of the vault text before reading KV again. */
export const VAULT_TEXT_CACHE_MS = 10_000;

export interface LoadedVault {
  text: string;
  plaintext: string;
  config: AiConfig;
}

interface StoredText {
  text: string;
  /** SHA-256 of the text, computed when it is read (every 10 s at most), never per request. */
  digest: string;
}

// Values, never promises: a request that awaited another request's pending read or decryption would
// go on in that request's I/O context and fail ("Cannot perform I/O on behalf of a different
// request") once it had ended. A request that finds the text old reads KV itself; one that finds no
// decryption of the current version decrypts itself (requests arriving together on a new version
// may each do it once).
let textCache: { stored: StoredText | null; at: number } | undefined;
// Decrypting costs 100 000 PBKDF2 rounds: done once per (vault version, token) per isolate, the
// version being the digest of the stored text. A text that does not open never will: its failure
// is kept with it, so a broken vault costs one PBKDF2 run per version, not one per request.
let decrypted: { digest: string; token: string; outcome: { vault: LoadedVault } | { failure: GatewayError } } | undefined;

async function readStored(env: Bindings): Promise<StoredText | null> {
  const text = (await env.KV_AI_PROXY.get(VAULT_KEY)) ?? EMBEDDED_VAULT;
  return text === null ? null : { text, digest: await digestText(text) };
}

/** The stored vault text and its digest: KV first, then the vault embedded at build time, else null. */
async function currentStored(env: Bindings): Promise<StoredText | null> {
  if (textCache && Date.now() - textCache.at <= VAULT_TEXT_CACHE_MS) return textCache.stored;
  const at = Date.now();
  let stored: StoredText | null;
  try {
    stored = await withinMs(readStored(env), settingsOf(env).STORE_TIMEOUT_MS);
  } catch (err) {
    // KV failing or silent: the isolate's copy serves on, and KV is asked again in 10 s. Not the
    // embedded vault: it may be older than what KV holds (a provider removed since would come back).
    logEvent(env, 'error', { event: 'vault_read_failed', reason: err instanceof Error ? err.message : String(err) });
    if (!textCache) throw storeUnavailable('the vault store (KV)');
    textCache = { stored: textCache.stored, at };
    return textCache.stored;
  }
  if (!textCache || textCache.at <= at) textCache = { stored, at };
  return stored;
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

/** The current vault, decrypted: cached per isolate by the digest of its text. */
export async function loadVault(env: Bindings): Promise<LoadedVault> {
  const token = env.AI_JSON_CRYPTOKEN;
  if (!token) throw new GatewayError(503, 'AI_JSON_CRYPTOKEN is not set on this deployment', 'vault_token_unset');
  const stored = await currentStored(env);
  if (stored === null) {
    throw new GatewayError(503, 'no vault is stored yet: PUT one to /ai.json.enc', 'vault_missing');
  }
  if (!decrypted || decrypted.digest !== stored.digest || decrypted.token !== token) {
    try {
      decrypted = { digest: stored.digest, token, outcome: { vault: await openVault(stored.text, token) } };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      decrypted = { digest: stored.digest, token, outcome: { failure: new GatewayError(500, `the stored vault cannot be used: ${err.message}`, err.code) } };
    }
  }
  if ('failure' in decrypted.outcome) throw decrypted.outcome.failure;
  return decrypted.outcome.vault;
}

/**
 * Forget the vault text read from KV, so the next request reads KV again (tests, like `clearUsersCache`).
 * The decrypted config stays cached under its digest, as it does in production.
 */
export function clearVaultCache() {
  textCache = undefined;
}

export async function loadConfig(env: Bindings): Promise<AiConfig> {
  return (await loadVault(env)).config;
}

/**
 * Validate `text` with the token, then replace the vault through the VaultWriter, which keeps the
 * replaced text. `ifMatch` (the digest from GET's ETag, or `*`: any vault): refused with a 412 when it
 * does not match.
 */
export async function storeVault(env: Bindings, text: string, ifMatch: string | null = null): Promise<LoadedVault> {
  const token = env.AI_JSON_CRYPTOKEN;
  if (!token) throw new GatewayError(503, 'AI_JSON_CRYPTOKEN is not set on this deployment', 'vault_token_unset');
  const vault = await openVault(text, token);
  const written = await fromStore<VaultWrite>(env, 'the vault writer (Durable Object)', settingsOf(env).STORE_TIMEOUT_MS, () =>
    vaultWriter(env).write(text, ifMatch),
  );
  if (!written.ok && ifMatch === '*') throw new GatewayError(412, 'no vault is stored yet (If-Match: * needs one)', 'vault_missing');
  if (!written.ok) {
    throw new GatewayError(412, 'the vault changed since it was read (If-Match is not its ETag): download it again and reapply your change', 'vault_changed');
  }
  const digest = await digestText(text);
  textCache = { stored: { text, digest }, at: Date.now() };
  decrypted = { digest, token, outcome: { vault } };
  return vault;
}
