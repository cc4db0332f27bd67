// The load generator, in its own process so its CPU is never counted as a target's: bench/run.ts forks
// it and sends it one job at a time over IPC. JSON load is autocannon's; latencies are taken from its
// per-response hrtime (its histogram rounds to whole milliseconds, too coarse for sub-millisecond
// differences). Streams are read with node:http, timing the first body byte and the end.
import autocannon from 'autocannon';
import { Agent, request } from 'node:http';
import { percentile } from './stats';

export interface Target {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type Job =
  | ({ op: 'json'; connections: number; requests: number; seconds: number } & Target)
  | ({ op: 'streams'; connections: number; count: number } & Target)
  | ({ op: 'drain' } & Target)
  | ({ op: 'once' } & Target);

export interface JsonResult {
  requests: number;
  non2xx: number;
  /** Answers by status, when any was not 2xx (to say what went wrong). */
  statuses: Record<number, number>;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface StreamsResult {
  count: number;
  failures: number;
  ttfbP50: number;
  ttfbP99: number;
  totalP50: number;
  /** Median share of the stream's duration that had passed when its first byte arrived. */
  ttfbShare: number;
  bytes: number;
}

export interface DrainResult {
  status: number;
  bytes: number;
  ms: number;
}

export interface OnceResult {
  status: number;
  ms: number;
  headers: Record<string, string>;
  body: string;
}

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

function json(job: Extract<Job, { op: 'json' }>): Promise<JsonResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  const statuses: Record<number, number> = {};
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...job.headers },
        body: job.body,
        connections: job.connections,
        amount: job.requests,
        pipelining: 1,
        timeout: 10,
      },
      (err, result) => {
        clearTimeout(timer);
        if (err) return reject(err);
        const seconds = elapsedMs(start) / 1000;
        resolve({
          requests: latencies.length,
          non2xx,
          statuses,
          errors: result.errors + result.timeouts,
          seconds,
          rps: latencies.length / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
      else {
        non2xx++;
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    });
    const timer = setTimeout(() => instance.stop(), job.seconds * 1000);
  });
}

interface Timing {
  status: number;
  ttfb: number;
  total: number;
  bytes: number;
}

function timed(job: Target, agent: Agent, onData?: (size: number) => void): Promise<Timing> {
  const url = new URL(job.url);
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(job.body), ...job.headers },
      },
      (res) => {
        let ttfb = Number.NaN;
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) ttfb = elapsedMs(start);
          bytes += chunk.length;
          onData?.(chunk.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfb, total: elapsedMs(start), bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(job.body);
  });
}

async function streams(job: Extract<Job, { op: 'streams' }>): Promise<StreamsResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const timings: Timing[] = [];
  let failures = 0;
  let next = 0;
  const worker = async () => {
    while (next < job.count) {
      next++;
      const timing = await timed(job, agent).catch(() => undefined);
      if (timing && timing.status === 200) timings.push(timing);
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: job.connections }, worker));
  agent.destroy();
  return {
    count: timings.length,
    failures,
    ttfbP50: percentile(
      timings.map((t) => t.ttfb),
      50,
    ),
    ttfbP99: percentile(
      timings.map((t) => t.ttfb),
      99,
    ),
    totalP50: percentile(
      timings.map((t) => t.total),
      50,
    ),
    ttfbShare: percentile(
      timings.map((t) => t.ttfb / t.total),
      50,
    ),
    bytes: percentile(
      timings.map((t) => t.bytes),
      50,
    ),
  };
}

async function drain(job: Target): Promise<DrainResult> {
  const agent = new Agent({ keepAlive: false });
  const timing = await timed(job, agent);
  return { status: timing.status, bytes: timing.bytes, ms: timing.total };
}

async function once(job: Target): Promise<OnceResult> {
  const start = process.hrtime.bigint();
  const res = await fetch(job.url, { method: 'POST', headers: { 'content-type': 'application/json', ...job.headers }, body: job.body });
  const body = await res.text();
  return { status: res.status, ms: elapsedMs(start), headers: Object.fromEntries(res.headers), body };
}

const run = (job: Job) => (job.op === 'json' ? json(job) : job.op === 'streams' ? streams(job) : job.op === 'drain' ? drain(job) : once(job));

process.on('message', (message: { id: number; job: Job }) => {
  run(message.job).then(
    (result) => process.send!({ id: message.id, result }),
    (err: unknown) => process.send!({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
