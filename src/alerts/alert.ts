import * as z from 'zod';

// What an alert says (README, "Alerts"): one shape per kind, the machine-readable `alert` object of
// every webhook post and of GET /admin/alerts. `key` names the condition and its period, so an alert
// is sent once however often its producers see the condition. Ids, names, counts and statuses only:
// never a provider key (a key is named by the start of its SHA-256), a token or a prompt.

const common = {
  /** The condition and its period, e.g. `budget:<userId>:month:2026-12:80`: one alert per key. */
  key: z.string().min(1).max(300),
  /** When the condition was seen (ISO 8601, UTC). */
  time: z.iso.datetime(),
};

export const BudgetAlert = z.object({
  ...common,
  kind: z.literal('budget'),
  user: z.object({ id: z.string(), name: z.string() }),
  /** Which budget: the user's `monthlyBudgetUsd` or `dailyTokens`. */
  budget: z.enum(['monthlyBudgetUsd', 'dailyTokens']),
  /** `YYYY-MM` or `YYYY-MM-DD` (UTC). */
  period: z.string(),
  /** The percentage of the budget reached: 50, 80 or 100. */
  threshold: z.union([z.literal(50), z.literal(80), z.literal(100)]),
  /** USD spent this month, or tokens used today, when the threshold was reached. */
  used: z.number(),
  limit: z.number(),
});

export const KeyRejectedAlert = z.object({
  ...common,
  kind: z.literal('key_rejected'),
  provider: z.string(),
  /** The first 16 hex digits of the key's SHA-256: `printf %s "$KEY" | sha256sum | cut -c1-16`. */
  keyId: z.string(),
  /** 401 (unknown or revoked), 402 (out of credit) or 403 (refused, confirmed by a check with the same key). */
  status: z.number().int(),
  reason: z.string(),
});

export const ProviderFailingAlert = z.object({
  ...common,
  kind: z.literal('provider_failing'),
  provider: z.string(),
  /** The first failure of the run (ISO 8601), with no recovery since. */
  since: z.iso.datetime(),
  minutes: z.number(),
  failures: z.number().int(),
  /** The last failure: HTTP status (null for a timeout or a network error) and reason. */
  lastStatus: z.number().int().nullable(),
  lastReason: z.string(),
});

export const DailySpendAlert = z.object({
  ...common,
  kind: z.literal('daily_spend'),
  /** `YYYY-MM-DD` (UTC). */
  day: z.string(),
  spentUsd: z.number(),
  thresholdUsd: z.number(),
});

export const Alert = z.discriminatedUnion('kind', [BudgetAlert, KeyRejectedAlert, ProviderFailingAlert, DailySpendAlert]);

export type Alert = z.infer<typeof Alert>;
export type BudgetAlert = z.infer<typeof BudgetAlert>;
export type KeyRejectedAlert = z.infer<typeof KeyRejectedAlert>;
export type ProviderFailingAlert = z.infer<typeof ProviderFailingAlert>;
export type DailySpendAlert = z.infer<typeof DailySpendAlert>;
export type AlertKind = Alert['kind'];
