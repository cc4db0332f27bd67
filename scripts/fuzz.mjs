// npm run fuzz -- [--runs N] [--seed S]: the fast-check properties (test/worker/app.fuzz*.test.ts) with
// N cases each (default: each property's own size) and seed S (default: a random one, printed first
// so a failure can be replayed). `npm test` and CI keep the fixed seed and sizes of test/worker/helpers/fuzz.ts.

import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startVitest } from 'vitest/node';

/** The line each fuzz file prints once done (CASES_LINE in test/worker/helpers/fuzz.ts). */
const CASES_LINE = /fuzz cases run: (\d+)/;

const { values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' } } });
const whole = (name, text, min) => {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    console.error(`--${name} must be a whole number of at least ${min}; got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
};
const runs = whole('runs', values.runs, 1);
const seed = whole('seed', values.seed, -(2 ** 31)) ?? randomInt(2 ** 31);
const replay = `npm run fuzz --${runs === undefined ? '' : ` --runs ${runs}`} --seed ${seed}`;
console.log(`fuzz: seed ${seed}, ${runs === undefined ? 'each property at its own size' : `${runs} cases per property`} (replay: ${replay})`);

for (const script of ['scripts/embed-config.mjs', 'scripts/build-pages.mjs']) execFileSync(process.execPath, [script, '--quiet'], { stdio: 'inherit' });

// Read by vitest.config.mts and passed to the worker tests as bindings.
process.env.FUZZ_SEED = String(seed);
if (runs !== undefined) process.env.FUZZ_RUNS = String(runs);

let cases = 0;
const started = performance.now();
const vitest = await startVitest('test', ['test/worker/app.fuzz'], {
  run: true,
  project: ['worker'],
  // No JSON report: test-results/vitest.json stays the last `npm test`'s.
  reporters: ['default'],
  // Thousands of request log lines say nothing a failure's own report does not: only the counts are kept.
  onConsoleLog(log) {
    const counted = CASES_LINE.exec(log);
    if (counted) cases += Number(counted[1]);
    return false;
  },
});
const seconds = ((performance.now() - started) / 1000).toFixed(1);
// vitest sets the exit code for failed tests, files that did not load and unhandled errors.
const failed = vitest.state.getCountOfFailedTests() > 0 || Number(process.exitCode ?? 0) !== 0;
console.log(`fuzz: ${cases} cases in ${seconds} s, seed ${seed}: ${failed ? `FAILED (replay: ${replay})` : 'no failure'}`);
process.exit(failed ? 1 : 0);
