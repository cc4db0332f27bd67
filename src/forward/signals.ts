import { emptySignals, foldReport, type Headroom, type SignalReport, type SignalRow, type Signals } from '../limits/signals';

// The isolate's side of the routing signals. Each attempt's outcome is gathered per key until the next
// report (key-health.ts sends the batch in one call per SIGNAL_FLUSH_MS, off the response path), and
// folded at once into this isolate's copy of the providers' signals, which the KeyHealth object's
// view replaces at each refresh. Read synchronously: choosing a provider never waits on the object.

/** What one attempt (or a stream's end, for its tokens per second) showed. */
export interface Observation {
  /** ok: an answer; error: the provider's failure (5xx, 408, timeout, network); refused: 429; other: the client's 4xx. */
  outcome?: 'ok' | 'error' | 'refused' | 'other';
  ttfbMs?: number;
  tokensPerSecond?: number;
  headroom?: Headroom;
}

type Gathered = Omit<SignalReport, 'provider' | 'keyId'>;

const emptyReport = (at: number): Gathered => ({ at, attempts: 0, errors: 0, refusals: 0, ttfbSum: 0, ttfbCount: 0, tpsSum: 0, tpsCount: 0 });

function reportOf(observation: Observation, at: number): Gathered {
  const report = emptyReport(at);
  if (observation.outcome) {
    report.attempts = 1;
    report.errors = observation.outcome === 'error' ? 1 : 0;
    report.refusals = observation.outcome === 'refused' ? 1 : 0;
  }
  if (observation.ttfbMs !== undefined) [report.ttfbSum, report.ttfbCount] = [observation.ttfbMs, 1];
  if (observation.tokensPerSecond !== undefined && Number.isFinite(observation.tokensPerSecond)) {
    [report.tpsSum, report.tpsCount] = [observation.tokensPerSecond, 1];
  }
  if (observation.headroom) report.headroom = observation.headroom;
  return report;
}

function add(into: Gathered, report: Gathered) {
  into.at = Math.max(into.at, report.at);
  into.attempts += report.attempts;
  into.errors += report.errors;
  into.refusals += report.refusals;
  into.ttfbSum += report.ttfbSum;
  into.ttfbCount += report.ttfbCount;
  into.tpsSum += report.tpsSum;
  into.tpsCount += report.tpsCount;
  if (report.headroom) into.headroom = report.headroom;
}

/** Keyed by provider and key value; key-health.ts names the key by its digest when it sends the batch. */
const gathered = new Map<string, { provider: string; key: string; report: Gathered }>();
let providers = new Map<string, Signals>();

/** Note an observation: into the next report, and into this isolate's copy of the provider's signals. */
export function observe(providerId: string, key: string, observation: Observation, windowMs: number, now = Date.now()) {
  const report = reportOf(observation, now);
  const id = `${providerId}\n${key}`;
  let entry = gathered.get(id);
  if (!entry) gathered.set(id, (entry = { provider: providerId, key, report: emptyReport(now) }));
  add(entry.report, report);
  providers.set(providerId, foldReport(providers.get(providerId) ?? emptySignals(), report, windowMs));
}

/** Everything gathered since the last call, emptied. */
export function takeGathered(): { provider: string; key: string; report: Gathered }[] {
  const out = [...gathered.values()];
  gathered.clear();
  return out;
}

/** The KeyHealth object's view replaces this isolate's copy (it holds every isolate's reports). */
export function adoptSignals(rows: SignalRow[]) {
  providers = new Map(rows.filter((row) => row.keyId === '').map((row) => [row.provider, row]));
}

/** A provider's signals as this isolate knows them, or undefined when nothing was heard of it. */
export const providerSignals = (providerId: string): Signals | undefined => providers.get(providerId);
