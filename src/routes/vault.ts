import { Hono } from 'hono';
import type { Env } from '../env';
import { EMBEDDED_VAULT } from '../generated/embedded-vault';
import { operatorAuth } from '../middleware/auth';
import { vaultBodyLimit } from '../middleware/body-limit';
import { errorResponse } from '../errors';
import { loadVault, storeVault, VAULT_KEY } from '../vault/store';

// GET /ai.json.enc (public: it is encrypted), PUT /ai.json.enc and GET /ai.json (vault token).

export const vaultRoutes = new Hono<Env>();

vaultRoutes.get('/ai.json.enc', async (c) => {
  const text = (await c.env.KV_AI_PROXY.get(VAULT_KEY)) ?? EMBEDDED_VAULT;
  if (text === null) return errorResponse(404, 'no vault is stored yet: PUT one to /ai.json.enc', 'vault_missing');
  return c.body(text, 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
});

vaultRoutes.put('/ai.json.enc', operatorAuth, vaultBodyLimit, async (c) => {
  const { config } = await storeVault(c.env, await c.req.text());
  const providers = Object.values(config.providers);
  return c.json({
    ok: true,
    providers: providers.length,
    keys: providers.reduce((n, p) => n + p.keys.length, 0),
    models: providers.reduce((n, p) => n + p.models.length, 0),
  });
});

vaultRoutes.get('/ai.json', operatorAuth, async (c) => {
  const { plaintext } = await loadVault(c.env);
  return c.body(plaintext, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
});
