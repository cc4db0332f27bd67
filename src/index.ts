import { checkDailySpend } from './alerts/daily-spend';
import { deliverAlerts } from './alerts/deliver';
import app from './app';
import type { Bindings } from './env';
import { removeExpiredRecords } from './usage/retention';
import { secretsWeakness } from './vault/token-strength';

export { KeyHealth } from './limits/key-health';
export { RateLimiter } from './limits/rate-limiter';
export { UserMeter } from './limits/user-meter';
export { UsersDirectory } from './users/directory';
export { VaultWriter } from './vault/writer';

/** The daily run's schedule, as written in wrangler.jsonc. */
const DAILY_CRON = '17 3 * * *';

export default {
  fetch: app.fetch,
  /**
   * The cron triggers (wrangler.jsonc). Daily: usage records past their retention are removed, and weak
   * secrets logged. Every 5 minutes: the day's spend is checked against ALERT_DAILY_SPEND_USD.
   */
  async scheduled(controller, env) {
    if (controller.cron === DAILY_CRON) await Promise.all([removeExpiredRecords(env), secretsWeakness(env)]);
    else await checkDailySpend(env, controller.scheduledTime);
  },
  /** The ALERTS queue's consumer: alerts recorded in D1 and posted to ALERT_WEBHOOK_URL (src/alerts/deliver.ts). */
  queue: deliverAlerts,
} satisfies ExportedHandler<Bindings>;
