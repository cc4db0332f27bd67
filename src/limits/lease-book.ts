import type { Verdict } from './gcra';
import {
  type Amounts,
  type Lease,
  type LeaseEnd,
  type LeaseGrant,
  type LeaseLimits,
  type LeaseRelease,
  type LeaseRequest,
  MAX_LEASE_REQUESTS,
} from './lease-ledger';

// The isolate's side of leases (docs/architecture.md, "Leases"): a request is admitted against a
// lease this isolate holds for its user, with no call; only when none can admit it is the user's
// object asked, once, for a new one, which the requests waiting meanwhile share. What a lease did
// not use is owed back when the lease ends (expired, run out, or the user's limits changed) and goes
// with the next settle (usage/settle-batch.ts), after the releases of the requests settled before.

/** The call to the user's object (the middleware binds it to the env and the user). */
export type AskForLease = (request: Omit<LeaseRequest, 'leaseMs'>) => Promise<LeaseGrant>;

/** How an admitted request is tied to its lease until it settles. */
export interface Ticket {
  lease: HeldLease;
  reserve?: Amounts;
}

export interface Admitted {
  ticket?: Ticket;
  rate?: Verdict;
  refused?: LeaseGrant['refused'];
  /** A new lease was granted for this request: at its expiry it is given back (`expire`), if still open. */
  granted?: HeldLease;
}

export interface HeldLease {
  lease: Lease;
  /** `rpm|monthly|daily`: a lease admits only for the limits it was granted under. */
  terms: string;
  requests: number;
  usd: number;
  tokens: number;
  inflight: number;
  closed: boolean;
  rate?: Verdict;
  grantedAt: number;
}

interface UserLeases {
  held?: HeldLease;
  /** Ends not yet told to the object. */
  ends: LeaseEnd[];
  /** Lease calls of this isolate in flight. */
  asking: number;
  /** The last call gave a lease of several requests: requests that find none wait for the next call in flight instead of calling too. */
  shared: boolean;
  /** Requests the next lease asks for: doubled when a lease runs out early, halved when one ends half unused. */
  want: number;
}

const FIRST_WANT = 16;
/**
 * A waiting request looks again this often, on a timer of its own. Not woken by the asking request:
 * a request resumed from another request's context was, now and then, cancelled by workerd as hung
 * (1 in ~2 000 at c=32 in the bench), since its own context then had nothing pending.
 */
const WAIT_TICK_MS = 5;

const termsOf = (limits: LeaseLimits) => `${limits.rpm}|${limits.monthlyBudgetUsd ?? ''}|${limits.dailyTokens ?? ''}`;

export class LeaseBook {
  private readonly users = new Map<string, UserLeases>();

  /** `now`: the clock (a simulation drives its own). */
  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admit one request of `user`: against a lease of this isolate when one has room, else after asking
   * the object (`ask`). `reserve`: what the request may cost at most (absent for routes that reach no
   * provider). Throws what `ask` throws (the object cannot answer): the caller decides what that means.
   */
  async admit(user: string, limits: LeaseLimits, reserve: Amounts | undefined, ask: AskForLease, deadline: number): Promise<Admitted> {
    const state = this.stateOf(user);
    const terms = termsOf(limits);
    for (;;) {
      const local = this.takeLocal(state, terms, limits, reserve, this.now());
      if (local) return local;
      if (state.asking === 0 || !state.shared || this.now() > deadline) break;
      await this.waitForLease();
    }
    state.asking++;
    try {
      const grant = await ask({ ...limits, reserve, want: state.want });
      state.shared = grant.lease !== undefined && !grant.lease.single;
      if (!grant.lease) return { rate: grant.rate, refused: grant.refused };
      const fresh: HeldLease = {
        lease: grant.lease,
        terms,
        requests: grant.lease.requests,
        usd: grant.lease.usd,
        tokens: grant.lease.tokens,
        inflight: 0,
        closed: false,
        rate: grant.rate,
        grantedAt: this.now(),
      };
      const ticket = this.take(fresh, reserve);
      if (fresh.lease.single) {
        fresh.closed = true;
        return { ticket, rate: this.verdict(fresh) };
      }
      // Calls made side by side may each bring a lease: the newest admits, the one before is given back.
      if (state.held) this.close(state, state.held);
      state.held = fresh;
      return { ticket, rate: this.verdict(fresh), granted: fresh };
    } finally {
      state.asking--;
    }
  }

  /**
   * A request settled: the reservation it releases at the object. Against an open lease that is its
   * actual cost (the rest of its reservation goes back to the lease here); against a closed one, all of it.
   * Null when nothing needs telling.
   */
  settle(ticket: Ticket, actual: Amounts): LeaseRelease | null {
    const held = ticket.lease;
    held.inflight--;
    const reserve = ticket.reserve ?? { usd: 0, tokens: 0 };
    if (held.closed) return held.lease.single && !ticket.reserve ? null : { id: held.lease.id, closed: true, ...reserve };
    held.usd += reserve.usd - actual.usd;
    held.tokens += reserve.tokens - actual.tokens;
    if (actual.usd === 0 && actual.tokens === 0) return null;
    return { id: held.lease.id, closed: false, ...actual };
  }

  /**
   * At a lease's expiry: if still open, it is closed and its end owed to the object. True when ends
   * are owed (this one, or one closed earlier, e.g. run out, that no settle has carried yet).
   */
  expire(user: string, held: HeldLease): boolean {
    const state = this.users.get(user);
    if (!state) return false;
    if (!held.closed) this.close(state, held);
    return state.ends.length > 0;
  }

  /** The ends owed to the object, to be sent with the next settle. */
  takeEnds(user: string): LeaseEnd[] {
    return this.users.get(user)?.ends.splice(0) ?? [];
  }

  private takeLocal(state: UserLeases, terms: string, limits: LeaseLimits, reserve: Amounts | undefined, now: number): Admitted | undefined {
    const held = state.held;
    if (!held || held.closed) return undefined;
    if (held.terms !== terms || now >= held.lease.expiresAt) {
      this.close(state, held);
      return undefined;
    }
    const budgeted = reserve !== undefined;
    const fits =
      held.requests > 0 &&
      (!budgeted || limits.monthlyBudgetUsd === undefined || held.usd >= reserve.usd) &&
      (!budgeted || limits.dailyTokens === undefined || held.tokens >= reserve.tokens);
    if (!fits) {
      // Ran out before its time: the next one is larger.
      if (held.requests === 0 && now - held.grantedAt < (held.lease.expiresAt - held.grantedAt) / 2) state.want = Math.min(MAX_LEASE_REQUESTS, state.want * 2);
      this.close(state, held);
      return undefined;
    }
    return { ticket: this.take(held, reserve), rate: this.verdict(held) };
  }

  private take(held: HeldLease, reserve: Amounts | undefined): Ticket {
    held.requests--;
    held.inflight++;
    if (reserve) {
      held.usd -= reserve.usd;
      held.tokens -= reserve.tokens;
    }
    return { lease: held, reserve };
  }

  /** The rate-limit headers' view: what the object had left after the lease, plus what the lease still holds. */
  private verdict(held: HeldLease): Verdict | undefined {
    const rate = held.rate;
    if (!rate) return undefined;
    return { ...rate, remaining: Math.min(rate.limit, rate.remaining + held.requests), resetMs: Math.max(0, rate.resetMs - (this.now() - held.grantedAt)) };
  }

  private close(state: UserLeases, held: HeldLease) {
    held.closed = true;
    if (state.held === held) state.held = undefined;
    if (held.requests > held.lease.requests / 2) state.want = Math.max(1, Math.ceil(state.want / 2));
    state.ends.push({ id: held.lease.id, requests: held.requests, usd: Math.max(0, held.usd), tokens: Math.max(0, held.tokens), inflight: held.inflight });
  }

  private stateOf(user: string): UserLeases {
    let state = this.users.get(user);
    if (!state) this.users.set(user, (state = { ends: [], asking: 0, shared: true, want: FIRST_WANT }));
    return state;
  }

  /** Resolves after WAIT_TICK_MS, on the waiting request's own timer. */
  private waitForLease(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, WAIT_TICK_MS));
  }
}

const books = new WeakMap<object, LeaseBook>();

/** This isolate's leases from one Durable Object namespace (one per namespace: a test's stand-in meter has its own). */
export function leaseBookOf(namespace: object): LeaseBook {
  let book = books.get(namespace);
  if (!book) books.set(namespace, (book = new LeaseBook()));
  return book;
}
