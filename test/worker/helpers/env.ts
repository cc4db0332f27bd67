import { env as testEnv } from 'cloudflare:test';
import type { Bindings } from '../../../src/env';
import { clearUsersCache } from '../../../src/users/store';
import { clearVaultCache, PREVIOUS_VAULT_KEY, VAULT_KEY } from '../../../src/vault/store';
import { sealVault, testConfig, VAULT_TOKEN } from './vault';

/** The default gateway user of the helpers. */
export const USER_KEY = 'sy-user-key-tester-0123456789';
export const DEFAULT_USERS = { tester: { key: USER_KEY } };

export interface TestEnvOptions {
  /** The AiConfig to encrypt and store in KV (default `testConfig()`); null stores no vault. */
  config?: unknown;
  /** Exact vault text to store instead of encrypting `config`. */
  vaultText?: string | null;
  /**
   * The `users` map to store in KV (default one user with USER_KEY); null stores none. A user without
   * an `id` is stored with its name as id (as the first ids given are), unless `rawUsers` is set.
   */
  users?: Record<string, unknown> | null;
  /** Store `users` exactly as given: users without an id get one from the users directory on first sight. */
  rawUsers?: boolean;
  /** Bindings to add or override (CLOUDFLARE_AIG_TOKEN, CORS_ORIGINS, DEV_USERS_JSON…). */
  vars?: Partial<Bindings>;
}

/**
 * Vars every helper env starts with: no per-user rate limit, since the limiter's Durable Object keeps
 * counting across the tests of a file (tests of the limits set their own DEFAULT_RPM or `rpm`).
 */
export const BASE_VARS: Partial<Bindings> = { DEFAULT_RPM: '0' };

/**
 * A fresh gateway environment: KV holds exactly the given vault and users (storage is shared by the
 * tests of one file), and the per-isolate caches of the vault text and the users map are emptied.
 */
export async function makeEnv(options: TestEnvOptions = {}): Promise<Bindings> {
  const env = { ...(testEnv as unknown as Bindings), AI_JSON_CRYPTOKEN: VAULT_TOKEN, ...BASE_VARS, ...options.vars };
  const kv = env.KV_AI_PROXY;
  const text = options.vaultText !== undefined ? options.vaultText : options.config === null ? null : await sealVault(options.config ?? testConfig());
  await Promise.all([
    text === null ? kv.delete(VAULT_KEY) : kv.put(VAULT_KEY, text),
    kv.delete(PREVIOUS_VAULT_KEY),
    options.users === null ? kv.delete('users') : kv.put('users', JSON.stringify(withIds(options.users ?? DEFAULT_USERS, options.rawUsers))),
  ]);
  clearVaultCache();
  clearUsersCache();
  return env;
}

function withIds(users: Record<string, unknown>, raw = false): Record<string, unknown> {
  if (raw) return users;
  return Object.fromEntries(Object.entries(users).map(([name, user]) => [name, { id: name, ...(user as Record<string, unknown>) }]));
}

/** Request headers carrying a gateway user key (and JSON content type). */
export function userHeaders(key = USER_KEY, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra };
}

/** A JSON POST init for app.request. */
export function postJson(body: unknown, headers: Record<string, string> = userHeaders()): RequestInit {
  return { method: 'POST', headers, body: JSON.stringify(body) };
}

/** The `id`s of an OpenAI-style list response (`{object:"list", data:[{id…}]}`), in order. */
export async function listIds(response: Response | Promise<Response>): Promise<string[]> {
  const { data } = await (await response).json<{ data: { id: string }[] }>();
  return data.map((item) => item.id);
}
