import type { Bindings } from '../env';
import type { BudgetAlert } from './alert';
import { queueAlerts } from './queue';
import { alertsOn } from './settings';

// Budget alerts: a user's monthly USD budget or daily token allowance at 50, 80 or 100 %. The user's
// Durable Object (src/limits/user-meter.ts) tells its BudgetWatch the limits of each lease request
// and the totals after each settled request. The level reached is compared, not the crossing: a
// settle that came before the limits were known (an object just woken) is caught up by the next one.
// Only the highest threshold reached is sent (a request that takes a user from 40 to 85 % is one
// alert, at 80), each once per user, budget, period and threshold: the watch remembers what it
// queued, and the consumer's D1 key covers an object that was evicted and forgot.

export const BUDGET_THRESHOLDS = [100, 80, 50] as const;

export interface BudgetLimits {
  monthlyBudgetUsd?: number;
  dailyTokens?: number;
}

/** A user's totals after a settled request, with the UTC periods they belong to. */
export interface BudgetTotals {
  /** `YYYY-MM` */
  month: string;
  /** `YYYY-MM-DD` */
  day: string;
  /** USD spent in `month`. */
  usd: number;
  /** Tokens used on `day`. */
  tokens: number;
}

/** The alerts a user's totals call for: per budget set, the highest threshold reached (none below 50 %). */
export function budgetAlerts(totals: BudgetTotals, limits: BudgetLimits, user: { id: string; name: string }, now: number): BudgetAlert[] {
  const budgets = [
    { budget: 'monthlyBudgetUsd' as const, period: `month:${totals.month}`, used: totals.usd, limit: limits.monthlyBudgetUsd },
    { budget: 'dailyTokens' as const, period: `day:${totals.day}`, used: totals.tokens, limit: limits.dailyTokens },
  ];
  return budgets.flatMap(({ budget, period, used, limit }) => {
    if (limit === undefined || !(limit > 0)) return [];
    const threshold = BUDGET_THRESHOLDS.find((t) => used * 100 >= t * limit);
    if (threshold === undefined) return [];
    return [
      {
        kind: 'budget',
        key: `budget:${user.id}:${period}:${threshold}`,
        time: new Date(now).toISOString(),
        user,
        budget,
        period: period.slice(period.indexOf(':') + 1),
        threshold,
        used,
        limit,
      },
    ];
  });
}

/** Keys queued and remembered by one object, at most (older periods' keys are dropped first). */
const MAX_REMEMBERED = 32;

/** One user's budget alerts, kept by the user's Durable Object. */
export class BudgetWatch {
  private limits?: BudgetLimits;
  private readonly queued = new Set<string>();

  /** The limits of the latest request for a lease: the user's current ones. */
  setLimits(limits: BudgetLimits) {
    this.limits = { monthlyBudgetUsd: limits.monthlyBudgetUsd, dailyTokens: limits.dailyTokens };
  }

  /** After a settled request: enqueue what its totals reached and was not queued yet. */
  async settled(env: Bindings, user: { id: string; name: string }, totals: BudgetTotals, now = Date.now()): Promise<void> {
    if (!this.limits || !alertsOn(env)) return;
    const fresh = budgetAlerts(totals, this.limits, user, now).filter((alert) => !this.queued.has(alert.key));
    for (const alert of fresh) {
      if (this.queued.size >= MAX_REMEMBERED) this.queued.delete(this.queued.values().next().value!);
      this.queued.add(alert.key);
    }
    if (!(await queueAlerts(env, fresh))) for (const alert of fresh) this.queued.delete(alert.key);
  }
}
