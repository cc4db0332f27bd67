import { Hono, type MiddlewareHandler } from 'hono';
import type { Env } from '../env';
import { EMBEDDED_VAULT } from '../generated/embedded-vault';
import { vaultAuth } from '../middleware/auth';
import { vaultBodyLimit } from '../middleware/body-limit';
import { errorResponse } from '../errors';
import { digestText } from '../vault/crypto';
import { loadVault, storeVault, VAULT_KEY } from '../vault/store';
import { vaultWriter } from '../vault/writer';

// GET/PUT /ai.json.enc, GET /ai.json.enc/history and GET /ai.json: the vault passphrase only (never
// ADMIN_TOKEN: these hand out or replace every provider key). The ciphertext is not public (a weak
// passphrase could be guessed offline) unless PUBLIC_VAULT_DOWNLOAD=true.

export const vaultRoutes = new Hono<Env>();

const downloadAuth: MiddlewareHandler<Env> = (c, next) => (c.env.PUBLIC_VAULT_DOWNLOAD === 'true' ? next() : vaultAuth(c, next));

vaultRoutes.get('/ai.json.enc', downloadAuth, async (c) => {
  const text = (await c.env.KV_AI_PROXY.get(VAULT_KEY)) ?? EMBEDDED_VAULT;
  if (text === null) return errorResponse(404, 'no vault is stored yet: PUT one to /ai.json.enc', 'vault_missing');
  return c.body(text, 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', etag: `"${await digestText(text)}"` });
});

/** The replaced versions the VaultWriter keeps (newest first), to recover from a bad PUT. */
vaultRoutes.get('/ai.json.enc/history', vaultAuth, async (c) => {
  const versions = await vaultWriter(c.env).history();
  return c.json({ versions }, 200, { 'cache-control': 'no-store' });
});

vaultRoutes.put('/ai.json.enc', vaultAuth, vaultBodyLimit, async (c) => {
  const ifMatch = c.req.header('if-match');
  const { config } = await storeVault(c.env, await c.req.text(), ifMatch === undefined ? null : ifMatch.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
  const providers = Object.values(config.providers);
  return c.json({
    ok: true,
    providers: providers.length,
    keys: providers.reduce((n, p) => n + p.keys.length, 0),
    models: providers.reduce((n, p) => n + p.models.length, 0),
  });
});

vaultRoutes.get('/ai.json', vaultAuth, async (c) => {
  const { plaintext } = await loadVault(c.env);
  return c.body(plaintext, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
});
