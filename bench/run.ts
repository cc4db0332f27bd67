// `npm run bench [-- --quick] [--rounds N] [--out DIR] [--source CHECKOUT]`: one run, on this machine, of the same
// requests against (a) the upstream directly, (b) a bare pass-through Worker, (c) the gateway as
// deployed, (d) Portkey — then the figures, as a markdown table and an SVG chart. Method: docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  BENCH_PROVIDER_KEY,
  BENCH_USER_KEY,
  BENCH_USER_RPM,
  CONCURRENCY,
  FAR_OBJECT_MS,
  FULL,
  JSON_BODY,
  LARGE_BODY,
  LARGE_STREAM_BYTES,
  QUICK,
  STREAM_BODY,
} from './config';
import { measureHotPath } from './hot-path';
import type { Target as LoadTarget } from './load';
import { startPortkey, portkeyHeaders } from './portkey';
import { cpuMs, peakRssMiB, rssMiB, sampleRss } from './proc';
import { forkChild, LoadClient, TS_EXEC_ARGV } from './processes';
import { type ColdStart, type LargeStream, type Measured, type RoundResult, type RunData, TARGETS, type TargetName, updateDocs, writeReport } from './report';
import { benchVault, buildGateway, startBareWorker, startGateway, TOOL_ENV } from './workers';

// Wrangler and Miniflare must not try to reach the internet (metrics, the `cf` object).
Object.assign(process.env, TOOL_ENV);

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const option = (name: string) => {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
};
const plan = { ...(quick ? QUICK : FULL) };
if (option('--rounds')) plan.rounds = Math.max(1, Number(option('--rounds')));
const farObjectMs = option('--far-ms') === undefined ? FAR_OBJECT_MS : Math.max(0, Number(option('--far-ms')));
const ROOT = new URL('..', import.meta.url).pathname;
const TMP = join(ROOT, 'bench/.tmp');
const outDir = option('--out') ?? (quick ? join(TMP, 'results') : join(ROOT, 'bench/results'));

/** The measured checkout: its commit, `+changes` when it has uncommitted ones, else its path. */
function describeSource(dir: string): string {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    if (git('rev-parse', '--show-toplevel') !== dir.replace(/\/$/, '')) return dir;
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src', 'wrangler.jsonc') ? '+changes' : ''}`;
  } catch {
    return dir;
  }
}

const runStarted = performance.now();
const say = (message: string) => console.error(`[bench ${((performance.now() - runStarted) / 1000).toFixed(0).padStart(3)} s] ${message}`);

interface Endpoint {
  name: TargetName;
  pid: number;
  url: string;
  headers: Record<string, string>;
}

const stoppers: (() => Promise<void>)[] = [];
async function stopAll() {
  for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => {});
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  say(`${quick ? 'quick' : 'full'} run: ${plan.rounds} rounds, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)}`);
  const source = option('--source') === undefined ? undefined : resolve(option('--source')!);
  const bundle = await buildGateway(join(TMP, 'build'), source);
  say(`gateway bundle: ${(bundle.bytes / 1024).toFixed(1)} KiB, ${(bundle.gzipBytes / 1024).toFixed(1)} KiB gzipped`);

  const upstream = await forkChild(new URL('./upstream.ts', import.meta.url).pathname, [], {
    execArgv: TS_EXEC_ARGV,
    env: { ...process.env, STREAM_CHUNKS: String(plan.streamChunks), STREAM_PACE_MS: String(plan.streamPaceMs) },
  });
  stoppers.push(upstream.stop);
  const upstreamOrigin = `http://127.0.0.1:${upstream.hello.port}`;
  const load = await LoadClient.start();
  stoppers.push(() => load.stop());
  const vaultText = await benchVault(upstreamOrigin);

  const providerAuth = { authorization: `Bearer ${BENCH_PROVIDER_KEY}` };
  const gatewayAuth = { authorization: `Bearer ${BENCH_USER_KEY}` };
  const chat = (origin: string, name: TargetName) => (name === 'gateway' ? `${origin}/openai/v1/chat/completions` : `${origin}/v1/chat/completions`);
  const request = (endpoint: Pick<Endpoint, 'url' | 'headers'>, body: string): LoadTarget => ({ url: endpoint.url, headers: endpoint.headers, body });

  // First requests after start: each a fresh process (and for the gateway a fresh isolate, vault and limiter).
  const cold: ColdStart[] = [];
  for (let i = 0; i < plan.coldStarts; i++) {
    say(`cold start ${i + 1}/${plan.coldStarts}`);
    const starts: [TargetName, () => Promise<{ origin: string; startMs: number; headers: Record<string, string>; stop: () => Promise<void> }>][] = [
      [
        'bare',
        async () => {
          const t = await startBareWorker(upstreamOrigin);
          return { origin: t.url, startMs: t.startMs, headers: providerAuth, stop: t.dispose };
        },
      ],
      [
        'gateway',
        async () => {
          const t = await startGateway(bundle, vaultText);
          return { origin: t.url, startMs: t.startMs, headers: gatewayAuth, stop: t.dispose };
        },
      ],
      [
        'portkey',
        async () => {
          const t = await startPortkey();
          return { origin: t.origin, startMs: t.startMs, headers: portkeyHeaders(upstreamOrigin), stop: t.stop };
        },
      ],
    ];
    for (const [name, start] of starts) {
      const target = await start();
      try {
        const endpoint = { url: chat(target.origin, name), headers: target.headers };
        const first = await load.run({ op: 'once', ...request(endpoint, JSON_BODY) });
        const second = await load.run({ op: 'once', ...request(endpoint, JSON_BODY) });
        if (first.status !== 200 || second.status !== 200) throw new Error(`${name}: cold request answered ${first.status}: ${first.body.slice(0, 300)}`);
        cold.push({ name, startMs: target.startMs, firstMs: first.ms, secondMs: second.ms });
      } finally {
        await target.stop();
      }
    }
  }

  say('starting the targets');
  const bare = await startBareWorker(upstreamOrigin);
  stoppers.push(bare.dispose);
  const gateway = await startGateway(bundle, vaultText);
  stoppers.push(gateway.dispose);
  const portkey = await startPortkey();
  stoppers.push(portkey.stop);
  // The same gateway with its Durable Objects' SQLite on disk: measured sequentially, apart from the figures.
  const gatewayOnDisk = await startGateway(bundle, vaultText, { objectStorage: 'disk' });
  stoppers.push(gatewayOnDisk.dispose);
  // And with every call to the user's object delayed, as for a caller far from it: measured sequentially, apart.
  const gatewayFar = await startGateway(bundle, vaultText, { farObjectMs });
  stoppers.push(gatewayFar.dispose);
  const endpoints: Record<TargetName, Endpoint> = {
    direct: { name: 'direct', pid: upstream.pid, url: chat(upstreamOrigin, 'direct'), headers: providerAuth },
    bare: { name: 'bare', pid: bare.pid, url: chat(bare.url, 'bare'), headers: providerAuth },
    gateway: { name: 'gateway', pid: gateway.pid, url: chat(gateway.url, 'gateway'), headers: gatewayAuth },
    portkey: { name: 'portkey', pid: portkey.pid, url: chat(portkey.origin, 'portkey'), headers: portkeyHeaders(upstreamOrigin) },
  };

  // Every target must give the upstream's own answers before anything is timed.
  for (const name of TARGETS) {
    const endpoint = endpoints[name];
    const answer = await load.run({ op: 'once', ...request(endpoint, JSON_BODY) });
    const content =
      answer.status === 200 ? (JSON.parse(answer.body) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content : undefined;
    if (content !== 'Hello from the bench upstream.')
      throw new Error(`${name} does not relay the upstream's answer: ${answer.status} ${answer.body.slice(0, 300)}`);
    // The limiter fails open when its Durable Object cannot answer: its headers prove it was consulted.
    if (name === 'gateway' && answer.headers['x-ratelimit-limit'] !== String(BENCH_USER_RPM)) {
      throw new Error(`the gateway answered without consulting its rate limiter (X-RateLimit-Limit: ${answer.headers['x-ratelimit-limit']})`);
    }
    const stream = await load.run({ op: 'once', ...request(endpoint, STREAM_BODY) });
    const events = stream.body.split('\n\n').filter((e) => e.startsWith('data: {'));
    if (stream.status !== 200 || events.length !== plan.streamChunks || !stream.body.includes('data: [DONE]')) {
      throw new Error(`${name} does not relay the upstream's stream (${stream.status}, ${events.length} events): ${stream.body.slice(0, 300)}`);
    }
  }
  say('every target relays the upstream answer and stream');

  async function measureJson(endpoint: Endpoint, connections: number, requests: number, seconds: number): Promise<Measured> {
    const before = cpuMs(endpoint.pid);
    const result = await load.run({ op: 'json', connections, requests, seconds, ...request(endpoint, JSON_BODY) });
    const cpu = cpuMs(endpoint.pid) - before;
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${endpoint.name}: ${result.non2xx} non-2xx answers (${JSON.stringify(result.statuses)}), ${result.errors} errors at c=${connections}`);
    return { ...result, cpuMsPerRequest: cpu / result.requests };
  }

  const rounds: RoundResult[] = [];
  for (let r = 0; r < plan.rounds; r++) {
    // Rotate the order each round, so no target always runs first (or last) on a noisy machine.
    const order = TARGETS.map((_, i) => TARGETS[(i + r) % TARGETS.length]!);
    const round = { sequential: {}, concurrent: {}, streams: {} } as RoundResult;
    say(`round ${r + 1}/${plan.rounds}: sequential JSON`);
    for (const name of order) {
      const endpoint = endpoints[name];
      await load.run({ op: 'json', connections: 1, requests: plan.sequential.warmup, seconds: plan.sequential.seconds, ...request(endpoint, JSON_BODY) });
      round.sequential[name] = await measureJson(endpoint, 1, plan.sequential.requests, plan.sequential.seconds);
    }
    const onDisk: Endpoint = { ...endpoints.gateway, pid: gatewayOnDisk.pid, url: chat(gatewayOnDisk.url, 'gateway') };
    await load.run({ op: 'json', connections: 1, requests: plan.sequential.warmup, seconds: plan.sequential.seconds, ...request(onDisk, JSON_BODY) });
    round.sequentialObjectsOnDisk = await measureJson(onDisk, 1, plan.sequential.requests, plan.sequential.seconds);
    const far: Endpoint = { ...endpoints.gateway, pid: gatewayFar.pid, url: chat(gatewayFar.url, 'gateway') };
    await load.run({ op: 'json', connections: 1, requests: plan.sequential.warmup, seconds: plan.sequential.seconds, ...request(far, JSON_BODY) });
    round.sequentialFarObject = await measureJson(far, 1, plan.sequential.requests, plan.sequential.seconds);
    say(`round ${r + 1}/${plan.rounds}: JSON at concurrency ${CONCURRENCY}`);
    for (const name of order) {
      const endpoint = endpoints[name];
      await load.run({
        op: 'json',
        connections: CONCURRENCY,
        requests: plan.concurrent.requests,
        seconds: plan.concurrent.warmupSeconds,
        ...request(endpoint, JSON_BODY),
      });
      round.concurrent[name] = await measureJson(endpoint, CONCURRENCY, plan.concurrent.requests, plan.concurrent.seconds);
    }
    say(`round ${r + 1}/${plan.rounds}: sequential streams`);
    for (const name of order) {
      const endpoint = endpoints[name];
      await load.run({ op: 'streams', connections: 1, count: plan.streams.warmup, ...request(endpoint, STREAM_BODY) });
      const streams = await load.run({ op: 'streams', connections: 1, count: plan.streams.count, ...request(endpoint, STREAM_BODY) });
      if (streams.failures > 0) throw new Error(`${name}: ${streams.failures} streams failed`);
      // A stream that arrives in one piece at its end has been buffered (Portkey 1.15 with a newer
      // @hono/node-server did this, their issue 1389): its first byte would come after most of it.
      if (streams.ttfbShare > 0.5) throw new Error(`${name} buffers streams: first byte after ${(streams.ttfbShare * 100).toFixed(0)} % of the stream`);
      round.streams[name] = streams;
    }
    say(`round ${r + 1}/${plan.rounds}: cache hits`);
    const cached: Endpoint = { ...endpoints.gateway, headers: { ...endpoints.gateway.headers, 'x-switchyard-cache-ttl': '86400' } };
    await load.run({ op: 'once', ...request(cached, JSON_BODY) });
    const hit = await load.run({ op: 'once', ...request(cached, JSON_BODY) });
    if (hit.status !== 200 || hit.headers['x-switchyard-cache'] !== 'HIT')
      throw new Error(`the gateway's cache did not answer (${hit.status}, X-Switchyard-Cache: ${hit.headers['x-switchyard-cache']})`);
    await load.run({ op: 'json', connections: 1, requests: plan.sequential.warmup, seconds: plan.sequential.seconds, ...request(cached, JSON_BODY) });
    const cacheSequential = await measureJson(cached, 1, plan.sequential.requests, plan.sequential.seconds);
    await load.run({
      op: 'json',
      connections: CONCURRENCY,
      requests: plan.concurrent.requests,
      seconds: plan.concurrent.warmupSeconds,
      ...request(cached, JSON_BODY),
    });
    round.cacheHit = { sequential: cacheSequential, concurrent: await measureJson(cached, CONCURRENCY, plan.concurrent.requests, plan.concurrent.seconds) };
    rounds.push(round);
  }

  // Peak memory under the load above, before the large stream (reported on its own).
  const peakRss = Object.fromEntries(TARGETS.map((name) => [name, peakRssMiB(endpoints[name].pid)])) as Record<TargetName, number>;

  // Twice through each target: the first pass grows a process to its working heap, the second shows
  // whether memory grows with the bytes streamed (buffering) or stays flat.
  const largeStream: Partial<Record<TargetName, LargeStream>> = {};
  if (plan.largeStream) {
    const drain = async (name: TargetName) => {
      const drained = await load.run({ op: 'drain', ...request(endpoints[name], LARGE_BODY) });
      if (drained.status !== 200 || drained.bytes < LARGE_STREAM_BYTES)
        throw new Error(`${name}: the large stream ended after ${drained.bytes} bytes (status ${drained.status})`);
      return drained;
    };
    for (const name of TARGETS) {
      say(`2 × ${LARGE_STREAM_BYTES / 1024 / 1024} MB stream through ${name}`);
      const { pid } = endpoints[name];
      const passes = [];
      for (let pass = 0; pass < 2; pass++) {
        const rssBeforeMiB = rssMiB(pid);
        const sampler = sampleRss(pid);
        const drained = await drain(name);
        passes.push({ rssBeforeMiB, rssPeakMiB: sampler.stop(), bytes: drained.bytes, ms: drained.ms });
      }
      largeStream[name] = { first: passes[0]!, second: passes[1]!, alternating: [] };
    }
    // Throughput from rounds of one pass per target, back to back in a rotating order: the machine's
    // drift over the run falls on every target of a round alike (one pass each moved by 2× between
    // runs on this shared machine).
    for (let r = 0; r < plan.largeStreamRounds; r++) {
      say(`${LARGE_STREAM_BYTES / 1024 / 1024} MB stream, round ${r + 1}/${plan.largeStreamRounds}`);
      for (const name of TARGETS.map((_, i) => TARGETS[(i + r) % TARGETS.length]!)) largeStream[name]!.alternating.push((await drain(name)).ms);
    }
  }

  await stopAll();
  say('the hot path, stage by stage');
  // Another checkout may lack a module the stages name (bench/hot-path-worker.ts): its run keeps every other figure.
  const hotPath = await measureHotPath(quick ? 2 : 5, source).catch((err: unknown) => {
    if (!source) throw err;
    say(`the hot path could not be measured for ${source}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return [];
  });
  mkdirSync(outDir, { recursive: true });
  const data: RunData = {
    date: new Date().toISOString(),
    quick,
    plan,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: loadavg()[0]! },
    gateway: describeSource(source ?? ROOT),
    bundle: { bytes: bundle.bytes, gzipBytes: bundle.gzipBytes },
    farObjectMs,
    cold,
    rounds,
    peakRss,
    largeStream,
    hotPath,
  };
  const written = writeReport(outDir, data);
  // A full run of this checkout into bench/results is the latest figures: docs/benchmarks.md shows them.
  if (!quick && outDir === join(ROOT, 'bench/results') && !source) {
    updateDocs(join(ROOT, 'docs/benchmarks.md'), data);
    written.push('docs/benchmarks.md');
  }
  say(`done in ${((performance.now() - runStarted) / 60_000).toFixed(1)} min: ${written.join(', ')}`);
} catch (err) {
  await stopAll();
  console.error(err);
  process.exitCode = 1;
}
