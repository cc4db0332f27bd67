import { describe, expect, it } from 'vitest';
import { budgetAlerts, BudgetWatch } from '../../../src/alerts/budget';
import { alertEnv, recordingQueue } from '../helpers/alerts';

// Budget alerts: the highest of 50 / 80 / 100 % reached, per budget (monthly USD, daily tokens), queued
// once per user, budget, period and threshold by the user's BudgetWatch.

const user = { id: 'u-42', name: 'alice' };
const NOW = Date.parse('2026-12-14T10:00:00Z');
const totals = (usd: number, tokens: number) => ({ month: '2026-12', day: '2026-12-14', usd, tokens });

describe('budgetAlerts', () => {
  it('names the highest threshold reached per budget, with its period in the key', () => {
    const limits = { monthlyBudgetUsd: 10, dailyTokens: 1000 };
    expect(budgetAlerts(totals(4.99, 499), limits, user, NOW)).toEqual([]);
    expect(budgetAlerts(totals(5, 500), limits, user, NOW).map((a) => a.key)).toEqual(['budget:u-42:month:2026-12:50', 'budget:u-42:day:2026-12-14:50']);
    // 40 → 85 % in one request is one alert, at 80.
    expect(budgetAlerts(totals(8.5, 200), limits, user, NOW)).toEqual([
      {
        kind: 'budget',
        key: 'budget:u-42:month:2026-12:80',
        time: '2026-12-14T10:00:00.000Z',
        user,
        budget: 'monthlyBudgetUsd',
        period: '2026-12',
        threshold: 80,
        used: 8.5,
        limit: 10,
      },
    ]);
    expect(budgetAlerts(totals(12, 1000), limits, user, NOW).map((a) => [a.budget, a.threshold, a.period])).toEqual([
      ['monthlyBudgetUsd', 100, '2026-12'],
      ['dailyTokens', 100, '2026-12-14'],
    ]);
  });

  it('says nothing for a budget the user does not have, or one of 0', () => {
    expect(budgetAlerts(totals(100, 1e9), {}, user, NOW)).toEqual([]);
    expect(budgetAlerts(totals(100, 1e9), { monthlyBudgetUsd: 0 }, user, NOW)).toEqual([]);
    expect(budgetAlerts(totals(100, 0), { dailyTokens: 10 }, user, NOW)).toEqual([]);
  });
});

describe('BudgetWatch', () => {
  it('queues each threshold once, the next one when it is reached, and again in a new period', async () => {
    const { sent, queue } = recordingQueue();
    const env = alertEnv({ ALERTS: queue });
    const watch = new BudgetWatch();
    watch.setLimits({ monthlyBudgetUsd: 10 });
    await watch.settled(env, user, totals(3, 0), NOW);
    expect(sent).toEqual([]);
    await watch.settled(env, user, totals(5.5, 0), NOW);
    await watch.settled(env, user, totals(6, 0), NOW);
    await watch.settled(env, user, totals(7.9, 0), NOW);
    expect(sent.map((a) => a.key)).toEqual(['budget:u-42:month:2026-12:50']);
    await watch.settled(env, user, totals(9, 0), NOW);
    await watch.settled(env, user, totals(10.2, 0), NOW);
    await watch.settled(env, user, totals(11, 0), NOW);
    expect(sent.map((a) => a.key)).toEqual(['budget:u-42:month:2026-12:50', 'budget:u-42:month:2026-12:80', 'budget:u-42:month:2026-12:100']);
    await watch.settled(env, user, { ...totals(6, 0), month: '2027-01' }, NOW);
    expect(sent.at(-1)?.key).toBe('budget:u-42:month:2027-01:50');
    expect(sent).toHaveLength(4);
  });

  it('queues nothing before it knows the limits, nor without a webhook', async () => {
    const { sent, queue } = recordingQueue();
    const unknown = new BudgetWatch();
    await unknown.settled(alertEnv({ ALERTS: queue }), user, totals(50, 0), NOW);
    const off = new BudgetWatch();
    off.setLimits({ monthlyBudgetUsd: 10 });
    await off.settled(alertEnv({ ALERTS: queue, ALERT_WEBHOOK_URL: undefined }), user, totals(50, 0), NOW);
    expect(sent).toEqual([]);
  });

  it('an alert the queue refused is queued again on the next settle', async () => {
    const refusing = recordingQueue({ fail: true });
    const working = recordingQueue();
    const watch = new BudgetWatch();
    watch.setLimits({ dailyTokens: 100 });
    await watch.settled(alertEnv({ ALERTS: refusing.queue }), user, totals(0, 60), NOW);
    await watch.settled(alertEnv({ ALERTS: working.queue }), user, totals(0, 61), NOW);
    expect(working.sent.map((a) => a.key)).toEqual(['budget:u-42:day:2026-12-14:50']);
  });
});
