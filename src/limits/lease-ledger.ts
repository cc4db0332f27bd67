import { Gcra, type Verdict } from './gcra';

// The user's object's side of leases (docs/architecture.md, "Leases"). An isolate asks for a lease:
// a number of requests taken from the rate limit at once and, for a budgeted user, a slice of what
// is left of each budget, reserved until it is spent or given back. The isolate then admits requests
// against it with no call. Kept in memory only, like the rate limit itself: an evicted object starts
// over with no lease (what its isolates give back later is ignored).

/** A lease takes at most this share of what is left (requests in the burst, each budget). */
const SHARE = 4;
/** Budget slices only while this many more requests of the asking size fit in what is left; nearer, one request at a time. */
const FAR = 8;
/** Most requests one lease carries. */
export const MAX_LEASE_REQUESTS = 10_000;
/** A lease its isolate never closed (the isolate ended) is dropped this long after it expired. */
const UNCLOSED_GRACE_MS = 10_000;
/** A closed lease whose requests never all settled (a record went to D1 directly) is dropped after this. */
const INFLIGHT_GRACE_MS = 15 * 60_000;
const MINUTE_MS = 60_000;

export interface LeaseLimits {
  /** Requests per minute; 0 = unlimited. */
  rpm: number;
  monthlyBudgetUsd?: number;
  dailyTokens?: number;
}

export interface Amounts {
  usd: number;
  tokens: number;
}

export interface LeaseRequest extends LeaseLimits {
  /** What the asking request may cost at most; absent for routes that reach no provider (rate limit only). */
  reserve?: Amounts;
  /** Requests the isolate would like (it sizes this from its own recent rate). */
  want: number;
  /** How long the isolate may admit against the lease (LEASE_MS). */
  leaseMs: number;
}

export interface Lease {
  id: string;
  /** Requests the lease admits, the asking one included. */
  requests: number;
  /** Budget slices (0 for a budget the user does not have, or when nothing was reserved). */
  usd: number;
  tokens: number;
  expiresAt: number;
  /** A one-request lease: closed from the start, its one request in flight. */
  single: boolean;
}

export interface Refusal {
  code: 'rate_limited' | 'insufficient_quota';
  retryAfterS: number;
  message: string;
}

export interface LeaseGrant {
  lease?: Lease;
  /** The rate-limit verdict after the lease's requests were counted (absent when rpm is 0). */
  rate?: Verdict;
  refused?: Refusal;
}

/** An isolate gives a lease back: what it did not use, and how many of its requests are still running. */
export interface LeaseEnd extends Amounts {
  id: string;
  requests: number;
  inflight: number;
}

/** One settled request of a lease: the reservation it releases. `closed`: the lease was closed before it settled. */
export interface LeaseRelease extends Amounts {
  id: string;
  closed: boolean;
}

interface Held extends Amounts {
  rpm: number;
  expiresAt: number;
  closedAt?: number;
  inflight: number;
}

/** Seconds from `now` to the start of the next UTC month or day. */
export function secondsToNextPeriod(period: 'month' | 'day', now: number): number {
  const d = new Date(now);
  const next = period === 'month' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}

/** Where a user refused for a budget reads what is spent (that route is never refused for it). */
const SEE_USAGE = '; GET /v1/usage shows what is spent';

export class LeaseLedger {
  private readonly limiter = new Gcra();
  private readonly leases = new Map<string, Held>();
  private reservedUsd = 0;
  private reservedTokens = 0;

  /** Open leases and reservations, for tests and the simulation. */
  get reserved(): Amounts & { leases: number } {
    return { usd: this.reservedUsd, tokens: this.reservedTokens, leases: this.leases.size };
  }

  /**
   * A lease for the asking request and the ones after it, or its refusal. `spent`: the settled totals
   * of the current month (USD) and day (tokens). The asking request is refused exactly as without
   * leases (rate limit, then a budget whose settled and reserved parts reach it); sizes shrink to one
   * request as a limit nears, so a budget is overshot by at most one request's reservation.
   */
  grant(request: LeaseRequest, spent: Amounts, now: number, newId: () => string): LeaseGrant {
    this.expire(now);
    const { rpm, reserve, monthlyBudgetUsd, dailyTokens } = request;
    const rate = rpm > 0 ? this.limiter.peek(rpm, MINUTE_MS, now) : undefined;
    if (rate && !rate.allowed) {
      const wait = Math.max(1, Math.ceil(rate.resetMs / 1000));
      return { rate, refused: { code: 'rate_limited', retryAfterS: wait, message: `may send ${rpm} requests per minute; retry in ${wait} s` } };
    }
    const leftUsd = monthlyBudgetUsd === undefined ? Infinity : monthlyBudgetUsd - spent.usd - this.reservedUsd;
    const leftTokens = dailyTokens === undefined ? Infinity : dailyTokens - spent.tokens - this.reservedTokens;
    // Budgets bound what reaches a provider: a request that reaches none (GET /v1/usage, the catalog)
    // is never refused for a spent budget, so a user can always read why they are refused.
    if (reserve && leftUsd <= 0) {
      return {
        rate,
        refused: {
          code: 'insufficient_quota',
          retryAfterS: secondsToNextPeriod('month', now),
          message: `the monthly budget of ${monthlyBudgetUsd} USD is spent${SEE_USAGE}`,
        },
      };
    }
    if (reserve && leftTokens <= 0) {
      return {
        rate,
        refused: {
          code: 'insufficient_quota',
          retryAfterS: secondsToNextPeriod('day', now),
          message: `the daily allowance of ${dailyTokens} tokens is used up${SEE_USAGE}`,
        },
      };
    }
    let requests = Math.max(1, Math.min(request.want, MAX_LEASE_REQUESTS, rate ? Math.floor(rate.remaining / SHARE) : Infinity));
    if (reserve && (leftUsd < FAR * reserve.usd || leftTokens < FAR * reserve.tokens)) requests = 1;
    const slice = (left: number, each: number) => (left === Infinity ? 0 : requests === 1 ? each : Math.max(each, Math.min(requests * each, left / SHARE)));
    const usd = reserve ? slice(leftUsd, reserve.usd) : 0;
    const tokens = reserve ? slice(leftTokens, reserve.tokens) : 0;
    const counted = rpm > 0 ? this.limiter.takeMany(rpm, MINUTE_MS, now, requests) : undefined;
    const lease: Lease = { id: newId(), requests, usd, tokens, expiresAt: now + request.leaseMs, single: requests === 1 };
    // A one-request lease holding no reservation has nothing to give back: it is not kept.
    if (lease.single && usd === 0 && tokens === 0) return { lease, rate: counted };
    this.reservedUsd += usd;
    this.reservedTokens += tokens;
    this.leases.set(lease.id, { usd, tokens, rpm, expiresAt: lease.expiresAt, ...(lease.single ? { closedAt: now, inflight: 1 } : { inflight: 0 }) });
    return { lease, rate: counted };
  }

  /** A lease given back: its unused requests return to the rate limit, its unused slices to the budgets. */
  end(end: LeaseEnd, now: number): void {
    const held = this.leases.get(end.id);
    if (!held || held.closedAt !== undefined) return;
    if (held.rpm > 0 && end.requests > 0) this.limiter.giveBack(held.rpm, MINUTE_MS, now, end.requests);
    this.release(held, end);
    held.closedAt = now;
    held.inflight = end.inflight;
    if (held.inflight <= 0) this.drop(end.id, held);
  }

  /**
   * One request of a lease settled: its reservation (closed lease) or its actual cost (open lease,
   * whose isolate keeps the difference to admit more) is no longer held; the cost itself is in the totals.
   */
  settle(release: LeaseRelease): void {
    const held = this.leases.get(release.id);
    if (!held) return;
    this.release(held, release);
    if (release.closed && --held.inflight <= 0) this.drop(release.id, held);
  }

  private release(held: Held, amounts: Amounts) {
    const usd = Math.min(held.usd, Math.max(0, amounts.usd));
    const tokens = Math.min(held.tokens, Math.max(0, amounts.tokens));
    held.usd -= usd;
    held.tokens -= tokens;
    this.reservedUsd -= usd;
    this.reservedTokens -= tokens;
  }

  private drop(id: string, held: Held) {
    this.reservedUsd -= held.usd;
    this.reservedTokens -= held.tokens;
    this.leases.delete(id);
    // Float sums drift: with nothing held, nothing is reserved.
    if (this.leases.size === 0) [this.reservedUsd, this.reservedTokens] = [0, 0];
  }

  /** Leases whose isolate went away: their slices are no longer held (their requests stay counted). */
  private expire(now: number) {
    for (const [id, held] of this.leases) {
      const overdue = held.closedAt === undefined ? now > held.expiresAt + UNCLOSED_GRACE_MS : now > held.closedAt + INFLIGHT_GRACE_MS;
      if (overdue) this.drop(id, held);
    }
  }
}
