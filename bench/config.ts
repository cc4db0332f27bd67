// What one bench run sends, how much of it, and to whom. `--quick` shrinks every count and duration
// for iterating; the committed figures come from the full run.

export const SMALL_MODEL = 'bench-small';
export const LARGE_MODEL = 'bench-100mb';
export const LARGE_STREAM_BYTES = 100 * 1024 * 1024;

const messages = [{ role: 'user', content: 'Say hello.' }];
export const JSON_BODY = JSON.stringify({ model: SMALL_MODEL, messages });
export const STREAM_BODY = JSON.stringify({ model: SMALL_MODEL, messages, stream: true });
export const LARGE_BODY = JSON.stringify({ model: LARGE_MODEL, messages, stream: true });

/** The gateway's bench user: rpm 1 000 000 and budgets, far from every limit, so each request is admitted and metered as deployed. */
export const BENCH_USER_KEY = 'sy-bench-user-key';
export const BENCH_USER_RPM = 1_000_000;
/** Far-object mode: the delay added to each call to a user's Durable Object (`--far-ms`). */
export const FAR_OBJECT_MS = 80;
export const BENCH_VAULT_TOKEN = 'bench-vault-token';
export const BENCH_PROVIDER_KEY = 'sk-bench-provider-key';

export const CONCURRENCY = 32;

export interface Plan {
  rounds: number;
  /** Cold starts measured (each a fresh workerd / Node process). */
  coldStarts: number;
  /** Sequential JSON requests per target and round (bounded by `seconds` too). */
  sequential: { requests: number; seconds: number; warmup: number };
  /** JSON at CONCURRENCY per target and round. */
  concurrent: { requests: number; seconds: number; warmupSeconds: number };
  /** Sequential SSE streams of STREAM_CHUNKS events STREAM_PACE_MS apart, per target and round. */
  streams: { count: number; warmup: number };
  streamChunks: number;
  streamPaceMs: number;
  /** Stream LARGE_STREAM_BYTES through each target twice, sampling its memory. */
  largeStream: boolean;
  /** Then this many alternating rounds of one stream through each target, for its throughput. */
  largeStreamRounds: number;
}

export const FULL: Plan = {
  rounds: 5,
  coldStarts: 3,
  sequential: { requests: 2_000, seconds: 5, warmup: 200 },
  concurrent: { requests: 40_000, seconds: 6, warmupSeconds: 1 },
  streams: { count: 40, warmup: 5 },
  streamChunks: 10,
  streamPaceMs: 10,
  largeStream: true,
  largeStreamRounds: 5,
};

export const QUICK: Plan = {
  rounds: 2,
  coldStarts: 1,
  sequential: { requests: 500, seconds: 2, warmup: 100 },
  concurrent: { requests: 10_000, seconds: 2, warmupSeconds: 0.5 },
  streams: { count: 15, warmup: 3 },
  streamChunks: 10,
  streamPaceMs: 10,
  largeStream: true,
  largeStreamRounds: 2,
};
