import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LeaseLedger } from '../../src/limits/lease-ledger';
import { configureFuzz, runs, timeout } from './helpers/fuzz';
import { type Arrival, simulate } from './helpers/lease-sim';

// Leases on a virtual clock: the real LeaseLedger (the user's object) and real LeaseBooks (the
// isolates), with settles batched per isolate and leases given back at expiry (helpers/lease-sim.ts).

configureFuzz();

/** A seeded generator, so a figure printed here can be reproduced. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('one object, many isolates', () => {
  it('serves a user at 20 000 requests/s over 200 isolates with ≤ 500 calls/s and ≤ 1 call per 10 requests, every limit held', async () => {
    const next = random(20_000);
    const seconds = 10;
    const arrivals: Arrival[] = Array.from({ length: 20_000 * seconds }, (_, i) => ({
      at: i / 20,
      isolate: Math.floor(next() * 200),
      durationMs: 50 + next() * 1_450,
      reserve: { usd: 0.001, tokens: 2_000 },
      actual: { usd: 0.0004, tokens: 800 },
    }));
    const limits = { rpm: 2_000_000, monthlyBudgetUsd: 1_000_000, dailyTokens: 1e12 };
    const result = await simulate(arrivals, { isolates: 200, limits, leaseMs: 5_000, settleIntervalMs: 1_000, settleDelayMs: 20 });
    const callsPerSecond = result.calls / seconds;
    console.log(
      `leases: ${result.admitted} requests in ${seconds} s over 200 isolates: ${result.calls} object calls (${result.leaseCalls} leases, ${result.settleCalls} settles), ` +
        `${callsPerSecond.toFixed(0)} calls/s, one per ${(result.admitted / result.calls).toFixed(1)} requests`,
    );
    expect(result.admitted).toBe(arrivals.length);
    expect(callsPerSecond).toBeLessThanOrEqual(500);
    expect(result.calls * 10).toBeLessThanOrEqual(result.admitted);
    expect(result.spent.usd).toBeCloseTo(arrivals.length * 0.0004, 6);
    expect(result.heldAtEnd).toEqual({ usd: 0, tokens: 0, leases: 0 });
  }, 120_000);

  it('a steady user far from its limits in one isolate makes ≤ 1 call per 10 requests', async () => {
    const arrivals: Arrival[] = Array.from({ length: 50 * 60 }, (_, i) => ({
      at: i * 20,
      isolate: 0,
      durationMs: 300,
      reserve: { usd: 0.002, tokens: 1_500 },
      actual: { usd: 0.001, tokens: 700 },
    }));
    const result = await simulate(arrivals, {
      isolates: 1,
      limits: { rpm: 6_000, monthlyBudgetUsd: 100, dailyTokens: 100_000_000 },
      leaseMs: 5_000,
      settleIntervalMs: 1_000,
    });
    console.log(`leases: one isolate at 50 requests/s for 60 s: ${result.calls} object calls, one per ${(result.admitted / result.calls).toFixed(1)} requests`);
    expect(result.admitted).toBe(arrivals.length);
    expect(result.calls * 10).toBeLessThanOrEqual(result.admitted);
  });

  it('a user with rpm 3 gets one-request leases: 3 of 20 simultaneous requests, over any number of isolates', async () => {
    const arrivals: Arrival[] = Array.from({ length: 20 }, (_, i) => ({
      at: 0,
      isolate: i % 7,
      durationMs: 10,
      reserve: { usd: 0, tokens: 0 },
      actual: { usd: 0, tokens: 0 },
    }));
    const result = await simulate(arrivals, { isolates: 7, limits: { rpm: 3 }, leaseMs: 5_000, settleIntervalMs: 1_000 });
    expect(result.admitted).toBe(3);
    expect(result.leaseCalls).toBe(20);
  });
});

describe('bounds, over random arrivals', () => {
  const arrivalWithin = (ms: number) =>
    fc.record({
      at: fc.integer({ min: 0, max: ms }),
      isolate: fc.nat(),
      durationMs: fc.integer({ min: 0, max: 5_000 }),
      reserveUsd: fc.double({ min: 0.0001, max: 0.01, noNaN: true }),
      reserveTokens: fc.integer({ min: 10, max: 2_000 }),
      spentShare: fc.double({ min: 0, max: 1, noNaN: true }),
    });
  const common = {
    isolates: fc.integer({ min: 1, max: 12 }),
    leaseMs: fc.integer({ min: 50, max: 10_000 }),
    settleIntervalMs: fc.integer({ min: 0, max: 2_000 }),
    settleDelayMs: fc.integer({ min: 0, max: 500 }),
  };
  type Drawn = { at: number; isolate: number; durationMs: number; reserveUsd: number; reserveTokens: number; spentShare: number };
  const inOrder = (drawn: Drawn[], isolates: number): Arrival[] =>
    drawn
      .map((a) => ({
        at: a.at,
        isolate: a.isolate % isolates,
        durationMs: a.durationMs,
        reserve: { usd: a.reserveUsd, tokens: a.reserveTokens },
        actual: { usd: a.reserveUsd * a.spentShare, tokens: Math.floor(a.reserveTokens * a.spentShare) },
      }))
      .sort((a, b) => a.at - b.at);
  /** Every lease ended and every reservation was released once everything settled. */
  const nothingHeld = (result: Awaited<ReturnType<typeof simulate>>) => {
    expect(result.heldAtEnd.leases).toBe(0);
    expect(result.heldAtEnd.usd).toBeCloseTo(0, 9);
    expect(result.heldAtEnd.tokens).toBe(0);
  };

  it(
    'admissions never pass the rate limit: a burst of rpm, then one more every 60 s / rpm',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            ...common,
            rpm: fc.constantFrom(3, 10, 60, 600),
            arrivals: fc.array(arrivalWithin(30_000), { minLength: 1, maxLength: 300, size: 'max' }),
          }),
          async (plan) => {
            const arrivals = inOrder(plan.arrivals, plan.isolates);
            const result = await simulate(arrivals, { ...plan, limits: { rpm: plan.rpm } });
            // A lease's requests are counted when it is granted, so admissions can only trail the limiter.
            result.admittedAt.forEach((time, index) => expect(index + 1).toBeLessThanOrEqual(plan.rpm + Math.floor((plan.rpm * time) / 60_000)));
            nothingHeld(result);
          },
        ),
        { numRuns: runs(100) },
      );
    },
    timeout(100, 60_000),
  );

  it(
    'concurrent requests overshoot a budget by at most one request',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            ...common,
            monthlyBudgetUsd: fc.option(fc.constantFrom(0.02, 0.2, 2), { nil: undefined }),
            dailyTokens: fc.option(fc.constantFrom(3_000, 40_000, 400_000), { nil: undefined }),
            arrivals: fc.array(arrivalWithin(20_000), { minLength: 1, maxLength: 300, size: 'max' }),
          }),
          async (plan) => {
            const arrivals = inOrder(plan.arrivals, plan.isolates);
            const limits = { rpm: 1_000_000, monthlyBudgetUsd: plan.monthlyBudgetUsd, dailyTokens: plan.dailyTokens };
            const result = await simulate(arrivals, { ...plan, limits });
            const most = arrivals.reduce((max, a) => ({ usd: Math.max(max.usd, a.reserve.usd), tokens: Math.max(max.tokens, a.reserve.tokens) }), {
              usd: 0,
              tokens: 0,
            });
            if (plan.monthlyBudgetUsd !== undefined) expect(result.spent.usd).toBeLessThanOrEqual(plan.monthlyBudgetUsd + most.usd + 1e-9);
            if (plan.dailyTokens !== undefined) expect(result.spent.tokens).toBeLessThanOrEqual(plan.dailyTokens + most.tokens);
            nothingHeld(result);
          },
        ),
        { numRuns: runs(100) },
      );
    },
    timeout(100, 60_000),
  );
});

describe('the ledger', () => {
  const spentNothing = { usd: 0, tokens: 0 };
  let ids = 0;
  const id = () => `l${ids++}`;

  it('sizes a lease to a quarter of what is left, and to one request as a limit nears', () => {
    const ledger = new LeaseLedger();
    const far = ledger.grant({ rpm: 1_000, want: 1_000, leaseMs: 5_000 }, spentNothing, 0, id);
    expect(far.lease).toMatchObject({ requests: 250, single: false });
    expect(far.rate).toMatchObject({ limit: 1_000, remaining: 750 });
    const budget = { rpm: 0, monthlyBudgetUsd: 1, want: 100, leaseMs: 5_000, reserve: { usd: 0.01, tokens: 100 } };
    expect(ledger.grant(budget, spentNothing, 0, id).lease).toMatchObject({ requests: 100, usd: 0.25 });
    // 0.75 left, 0.185 of it asked for: still eight requests' worth, so a slice of a quarter.
    expect(ledger.grant({ ...budget, reserve: { usd: 0.09, tokens: 100 } }, spentNothing, 0, id).lease).toMatchObject({ usd: 0.1875 });
    // 0.5625 left: fewer than eight requests of 0.09 fit, so one request and its own reservation.
    expect(ledger.grant({ ...budget, reserve: { usd: 0.09, tokens: 100 } }, spentNothing, 0, id).lease).toMatchObject({ requests: 1, usd: 0.09, single: true });
    expect(ledger.reserved.usd).toBeCloseTo(0.25 + 0.1875 + 0.09, 9);
  });

  it('takes back what a lease did not use: requests to the rate limit, slices to the budget', () => {
    const ledger = new LeaseLedger();
    const grant = ledger.grant({ rpm: 40, want: 10, leaseMs: 5_000, monthlyBudgetUsd: 1, reserve: { usd: 0.001, tokens: 1 } }, spentNothing, 0, id);
    expect(grant.lease).toMatchObject({ requests: 10 });
    expect(grant.rate?.remaining).toBe(30);
    ledger.end({ id: grant.lease!.id, requests: 9, usd: grant.lease!.usd - 0.001, tokens: grant.lease!.tokens - 1, inflight: 1 }, 10);
    const after = ledger.grant({ rpm: 40, want: 1, leaseMs: 5_000 }, spentNothing, 10, id);
    expect(after.rate?.remaining).toBe(38);
    expect(ledger.reserved.usd).toBeCloseTo(0.001, 9);
    ledger.settle({ id: grant.lease!.id, closed: true, usd: 0.001, tokens: 1 });
    expect(ledger.reserved).toEqual({ usd: 0, tokens: 0, leases: 0 });
  });

  it('drops a lease whose isolate never gave it back, once it is well past its expiry', () => {
    const ledger = new LeaseLedger();
    ledger.grant({ rpm: 0, want: 10, leaseMs: 1_000, monthlyBudgetUsd: 1, reserve: { usd: 0.001, tokens: 1 } }, spentNothing, 0, id);
    expect(ledger.reserved.leases).toBe(1);
    ledger.grant({ rpm: 0, want: 1, leaseMs: 1_000 }, spentNothing, 1_000 + 10_001, id);
    expect(ledger.reserved).toEqual({ usd: 0, tokens: 0, leases: 0 });
  });
});
