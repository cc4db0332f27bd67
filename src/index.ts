import app from './app';
import type { Bindings } from './env';
import { removeExpiredRecords } from './usage/retention';
import { secretsWeakness } from './vault/token-strength';

export { KeyHealth } from './limits/key-health';
export { RateLimiter } from './limits/rate-limiter';
export { UserMeter } from './limits/user-meter';
export { UsersDirectory } from './users/directory';
export { VaultWriter } from './vault/writer';

export default {
  fetch: app.fetch,
  /** The daily cron trigger (wrangler.jsonc): usage records past their retention are removed, and weak secrets logged. */
  async scheduled(_controller, env) {
    await Promise.all([removeExpiredRecords(env), secretsWeakness(env)]);
  },
} satisfies ExportedHandler<Bindings>;
