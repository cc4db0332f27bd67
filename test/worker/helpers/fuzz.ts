import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { afterAll } from 'vitest';

// The seed and size of every fast-check property. `npm test` and CI run a fixed seed at each
// property's own size, so they explore the same cases every run and coverage floors cannot flake;
// `npm run fuzz` (scripts/fuzz.mjs) passes another seed and size as bindings (vitest.config.mts).

const { FUZZ_RUNS, FUZZ_SEED } = env as unknown as { FUZZ_RUNS?: string; FUZZ_SEED?: string };
const SIZE = FUZZ_RUNS === undefined ? undefined : Number(FUZZ_RUNS);
const FIXED_SEED = 20261122;
const SEED = FUZZ_SEED === undefined ? FIXED_SEED : Number(FUZZ_SEED);

/** The line scripts/fuzz.mjs adds up: the cases each file ran. */
export const CASES_LINE = 'fuzz cases run:';

let cases = 0;

/**
 * Call once at the top of a fuzz file: the run's seed for every property, each property's cases
 * counted (failed ones up to the failure) and printed once the file is done.
 */
export function configureFuzz() {
  fc.configureGlobal({
    seed: SEED,
    // fast-check's own report (it throws on failure), with the cases counted first.
    reporter(details) {
      cases += details.numRuns;
      if (details.failed) throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
    },
  });
  afterAll(() => {
    console.log(`${CASES_LINE} ${cases}`);
    cases = 0;
  });
}

/**
 * A property's number of cases: its own (`npm test`), or the fuzz run's up to `max`. A property whose
 * every case makes new users, hence new Durable Objects, sets a `max`: in the test runtime each new
 * object is slower to make than the one before (13 ms at 100 objects, 900 ms at 1 400), so such a
 * property's time grows with the square of its cases.
 */
export const runs = (own: number, max = Infinity) => Math.min(SIZE ?? own, Math.max(own, max));

/** A property test's timeout, grown in proportion when the fuzz run asks for more cases than its own. */
export const timeout = (own: number, ms: number, max = Infinity) => Math.ceil(ms * Math.max(1, runs(own, max) / own));

/**
 * A coverage floor (cases that reached some branch must be more than n) set for the fixed seed at the
 * property's own size. Another run gets a third of it scaled to its size (counts vary from seed to
 * seed), and none when that is under one case.
 */
export function floor(own: number, n: number): number {
  if (SIZE === undefined && SEED === FIXED_SEED) return n;
  const scaled = (n * runs(own)) / own / 3;
  return scaled < 1 ? -1 : Math.floor(scaled);
}
