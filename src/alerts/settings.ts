import * as z from 'zod';
import type { Bindings } from '../env';
import { describeIssues, providerUrl } from '../vault/schema';

// The alert settings (README, "Alerts"). Without a valid ALERT_WEBHOOK_URL alerts are off: nothing is
// enqueued and nothing is sent. The URL obeys the rule of the vault's endpoints (https, http only for
// a loopback host), so an alert never travels in clear text and never goes anywhere else.

const positive = (fallback: number) => z.coerce.number().positive().catch(fallback);

const Tunables = z.object({
  /** A provider failing this long without a recovery is an alert. */
  ALERT_PROVIDER_FAILING_MINUTES: positive(5),
  /** The day's spend (all users, USD) at or above which an alert is sent; unset: no such alert. */
  ALERT_DAILY_SPEND_USD: z.coerce.number().positive().optional().catch(undefined),
  /** First wait before a failed webhook post is tried again; doubled each time, at most an hour. */
  ALERT_RETRY_DELAY_S: z.coerce.number().int().min(0).catch(30),
});

export interface AlertSettings {
  /** The webhook, when alerts are on. */
  webhookUrl?: string;
  /** Why a set ALERT_WEBHOOK_URL is not used. */
  webhookError?: string;
  secret?: string;
  providerFailingMs: number;
  dailySpendUsd?: number;
  retryDelayS: number;
}

const parsed = new WeakMap<object, AlertSettings>();

/** The alert settings of an env, parsed once per env object. */
export function alertSettings(env: Partial<Bindings>): AlertSettings {
  let settings = parsed.get(env);
  if (settings) return settings;
  const tunables = Tunables.parse(env);
  const url = env.ALERT_WEBHOOK_URL?.trim() || undefined;
  const checked = url === undefined ? undefined : providerUrl.safeParse(url);
  settings = {
    webhookUrl: checked?.success ? url : undefined,
    webhookError: checked && !checked.success ? `ALERT_WEBHOOK_URL ${describeIssues(checked.error).replace(/^\(root\): /, '')}` : undefined,
    secret: env.ALERT_WEBHOOK_SECRET || undefined,
    providerFailingMs: tunables.ALERT_PROVIDER_FAILING_MINUTES * 60_000,
    dailySpendUsd: tunables.ALERT_DAILY_SPEND_USD,
    retryDelayS: tunables.ALERT_RETRY_DELAY_S,
  };
  parsed.set(env, settings);
  return settings;
}

/** Whether alerts are on: a valid webhook URL is set. */
export const alertsOn = (env: Partial<Bindings>): boolean => alertSettings(env).webhookUrl !== undefined;
