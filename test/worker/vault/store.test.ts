import { env } from 'cloudflare:test';
import { afterEach, expect, it } from 'vitest';
import app from '../../../src/app';
import { encryptVault } from '../../../src/vault/crypto';
import { clearVaultCache, VAULT_KEY } from '../../../src/vault/store';
import { embedVault } from '../helpers/embedded-vault';

const config = {
  version: 1,
  providers: { groq: { protocol: 'openai', endpoint: 'https://api.groq.com/openai/v1', keys: [{ key: 'gsk_embedded' }], models: [] } },
};

afterEach(async () => {
  await env.KV_AI_PROXY.delete(VAULT_KEY);
  embedVault(null);
  clearVaultCache();
});

it('serves the embedded vault while KV holds none, and the KV vault once one is stored', async () => {
  const embedded = await encryptVault(JSON.stringify(config), env.AI_JSON_CRYPTOKEN!);
  embedVault(embedded);
  const auth = { authorization: `Bearer ${env.AI_JSON_CRYPTOKEN}` };

  const fallback = await app.request('/ai.json.enc', { headers: auth }, env);
  expect(await fallback.text()).toBe(embedded);
  expect(await (await app.request('/ai.json', { headers: auth }, env)).json()).toMatchObject({ providers: { groq: {} } });

  const stored = await encryptVault(JSON.stringify({ ...config, providers: {} }), env.AI_JSON_CRYPTOKEN!);
  await env.KV_AI_PROXY.put(VAULT_KEY, stored);
  clearVaultCache();
  expect(await (await app.request('/ai.json.enc', { headers: auth }, env)).text()).toBe(stored);
  expect(await (await app.request('/ai.json', { headers: auth }, env)).json()).toEqual({ version: 1, providers: {} });
});

it('answers 404 on GET /ai.json.enc when neither KV nor the build holds a vault', async () => {
  const auth = { authorization: `Bearer ${env.AI_JSON_CRYPTOKEN}` };
  const res = await app.request('/ai.json.enc', { headers: auth }, env);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { code: 'vault_missing' } });
});
