import { LeaseBook, type Ticket } from '../../../src/limits/lease-book';
import { type Amounts, type LeaseEnd, LeaseLedger, type LeaseLimits, type LeaseRelease } from '../../../src/limits/lease-ledger';

// A unit-level simulation of leases on a virtual clock: one user's object (the real LeaseLedger)
// and many isolates (each a real LeaseBook), with requests arriving at given times on given isolates,
// running for a given time, settling in batches at most once per `settleIntervalMs` per isolate (as
// usage/writer.ts does), and leases given back at their expiry (as the middleware's waitUntil does).

export interface Arrival {
  at: number;
  isolate: number;
  /** How long the request runs before it settles. */
  durationMs: number;
  /** What it may cost at most (reserved), and what it costs (≤ reserve). */
  reserve: Amounts;
  actual: Amounts;
}

export interface SimOptions {
  isolates: number;
  limits: LeaseLimits;
  leaseMs: number;
  settleIntervalMs: number;
  /** Time for a settle to reach the object (lease calls are answered at once). */
  settleDelayMs?: number;
}

export interface SimResult {
  admitted: number;
  refused: number;
  /** Calls to the object: lease calls and settles. */
  calls: number;
  leaseCalls: number;
  settleCalls: number;
  /** Admission times, in order. */
  admittedAt: number[];
  spent: Amounts;
  endMs: number;
  /** What the ledger still holds once everything settled and every lease ended. */
  heldAtEnd: { usd: number; tokens: number; leases: number };
}

interface Pending {
  releases: LeaseRelease[];
  spent: Amounts;
  lastSentAt: number;
  scheduled: boolean;
}

type Event = { at: number; seq: number; run: () => Promise<void> | void };

export async function simulate(arrivals: Arrival[], options: SimOptions): Promise<SimResult> {
  let now = 0;
  let seq = 0;
  const ledger = new LeaseLedger();
  const spent: Amounts = { usd: 0, tokens: 0 };
  const books = Array.from({ length: options.isolates }, () => new LeaseBook(() => now));
  const outboxes: Pending[] = books.map(() => ({ releases: [], spent: { usd: 0, tokens: 0 }, lastSentAt: -Infinity, scheduled: false }));
  const events = new EventQueue();
  const at = (time: number, run: Event['run']) => events.push({ at: time, seq: seq++, run });
  const result: SimResult = {
    admitted: 0,
    refused: 0,
    calls: 0,
    leaseCalls: 0,
    settleCalls: 0,
    admittedAt: [],
    spent,
    endMs: 0,
    heldAtEnd: { usd: 0, tokens: 0, leases: 0 },
  };
  const delay = options.settleDelayMs ?? 0;
  let ids = 0;

  const flush = (isolate: number) => {
    const box = outboxes[isolate]!;
    box.scheduled = false;
    box.lastSentAt = now;
    const releases = box.releases.splice(0);
    const batchSpent = box.spent;
    box.spent = { usd: 0, tokens: 0 };
    const ends: LeaseEnd[] = books[isolate]!.takeEnds('u');
    if (releases.length === 0 && ends.length === 0 && batchSpent.usd === 0 && batchSpent.tokens === 0) return;
    result.calls++;
    result.settleCalls++;
    // The settle lands after the call's delay, in the order it was sent.
    at(now + delay, () => {
      spent.usd += batchSpent.usd;
      spent.tokens += batchSpent.tokens;
      for (const release of releases) ledger.settle(release);
      for (const end of ends) ledger.end(end, now);
    });
  };
  const scheduleFlush = (isolate: number) => {
    const box = outboxes[isolate]!;
    if (box.scheduled) return;
    box.scheduled = true;
    at(Math.max(now, box.lastSentAt + options.settleIntervalMs), () => flush(isolate));
  };

  for (const arrival of arrivals) {
    at(arrival.at, async () => {
      const book = books[arrival.isolate]!;
      const ask = async (request: Parameters<Parameters<LeaseBook['admit']>[3]>[0]) => {
        result.calls++;
        result.leaseCalls++;
        const grant = ledger.grant({ ...request, leaseMs: options.leaseMs }, spent, now, () => `lease-${ids++}`);
        return grant;
      };
      const admitted = await book.admit('u', options.limits, arrival.reserve, ask, Infinity);
      if (!admitted.ticket) {
        result.refused++;
        return;
      }
      result.admitted++;
      result.admittedAt.push(now);
      const ticket: Ticket = admitted.ticket;
      const granted = admitted.granted;
      if (granted)
        at(granted.lease.expiresAt, () => {
          if (book.expire('u', granted)) scheduleFlush(arrival.isolate);
        });
      at(now + arrival.durationMs, () => {
        const box = outboxes[arrival.isolate]!;
        const release = book.settle(ticket, arrival.actual);
        if (release) box.releases.push(release);
        box.spent.usd += arrival.actual.usd;
        box.spent.tokens += arrival.actual.tokens;
        scheduleFlush(arrival.isolate);
      });
    });
  }

  for (let event = events.pop(); event; event = events.pop()) {
    now = Math.max(now, event.at);
    await event.run();
  }
  result.endMs = now;
  result.heldAtEnd = ledger.reserved;
  return result;
}

/** Events by time, then by the order they were made: a binary heap. */
class EventQueue {
  private readonly heap: Event[] = [];

  push(event: Event) {
    const heap = this.heap;
    heap.push(event);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): Event | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let least = i;
        if (l < heap.length && before(heap[l]!, heap[least]!)) least = l;
        if (r < heap.length && before(heap[r]!, heap[least]!)) least = r;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}

const before = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
