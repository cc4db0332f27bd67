import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../env';
import { Gcra, type Verdict } from './gcra';

// A named limiter (the failed-authentication guard's `auth-ip:<address>` objects). Its state is one
// GCRA number in memory: no storage write per verdict. When the object is evicted (idle for a while)
// the count starts over, which a limit on failures per minutes can accept: an address that keeps
// failing keeps its object alive. Calls to one object are served one after the other, so a burst of
// simultaneous failures is counted exactly.

export type { Verdict };

export class RateLimiter extends DurableObject<Bindings> {
  private readonly limiter = new Gcra();

  /** Count one hit if the limit allows it. */
  take(limit: number, windowMs: number): Verdict {
    return this.limiter.take(limit, windowMs, Date.now());
  }

  /** The verdict `take` would give, without counting a hit. */
  peek(limit: number, windowMs: number): Verdict {
    return this.limiter.peek(limit, windowMs, Date.now());
  }
}
