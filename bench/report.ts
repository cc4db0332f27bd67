// From the raw samples of one run to the figures: every figure is the median over rounds of a value
// taken within one round, and every comparison (added ms, ratio) is computed inside the round first,
// so a target is only ever compared with a baseline measured minutes apart on the same noisy machine.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CONCURRENCY, LARGE_STREAM_BYTES, type Plan } from './config';
import type { JsonResult, StreamsResult } from './load';
import { barChart } from './chart';
import { hotPathTable, type StageCost } from './hot-path';
import { medianOf } from './stats';

export const TARGETS = ['direct', 'bare', 'gateway', 'portkey'] as const;
export type TargetName = (typeof TARGETS)[number];

export const LABELS: Record<TargetName, string> = {
  direct: '(a) direct',
  bare: '(b) bare Worker',
  gateway: '(c) Switchyard',
  portkey: '(d) Portkey',
};

export interface Measured extends JsonResult {
  /** CPU time of the process under test (upstream, workerd or Node) per request. */
  cpuMsPerRequest: number;
}

export interface RoundResult {
  sequential: Record<TargetName, Measured>;
  /** The gateway with its Durable Objects' SQLite on disk (Miniflare's default), sequential. */
  sequentialObjectsOnDisk: Measured;
  /** The gateway with every call to a user's object delayed by RunData.farObjectMs, sequential (absent in older runs). */
  sequentialFarObject?: Measured;
  concurrent: Record<TargetName, Measured>;
  streams: Record<TargetName, StreamsResult>;
  /** The gateway answering from its response cache (X-Switchyard-Cache: HIT), same body (absent in older runs). */
  cacheHit?: { sequential: Measured; concurrent: Measured };
}

export interface ColdStart {
  name: TargetName;
  startMs: number;
  firstMs: number;
  secondMs: number;
}

export interface RunData {
  date: string;
  quick: boolean;
  plan: Plan;
  machine: { cores: number; cpu: string; node: string; loadAverage: number };
  /** The measured gateway: a commit of this repository, or the checkout given with --source. */
  gateway: string;
  bundle: { bytes: number; gzipBytes: number };
  /** Far-object mode's delay per call to a user's object (absent in older runs). */
  farObjectMs?: number;
  cold: ColdStart[];
  rounds: RoundResult[];
  peakRss: Record<TargetName, number>;
  largeStream: Partial<Record<TargetName, LargeStream>>;
  hotPath: StageCost[];
}

export interface StreamPass {
  rssBeforeMiB: number;
  rssPeakMiB: number;
  bytes: number;
  ms: number;
}

/** Two consecutive large streams through one target (its memory), then its passes of the alternating rounds (throughput). */
export interface LargeStream {
  first: StreamPass;
  second: StreamPass;
  /** Milliseconds of each alternating pass: round i of every target ran back to back, so their ratio is one round's. */
  alternating: number[];
}

/** A target's large-stream throughput against (b)'s: the median of the alternating rounds' ratios. */
export const largeStreamShare = (target: LargeStream, bare: LargeStream) => medianOf(target.alternating.map((ms, i) => bare.alternating[i]! / ms));

/** How much higher memory went in the second pass than in the first: what streaming more costs. */
export const secondPassGrowth = (s: LargeStream) => Math.max(0, s.second.rssPeakMiB - s.first.rssPeakMiB);

type Kind = 'sequential' | 'concurrent';
type JsonMetric = 'p50' | 'p99' | 'rps' | 'cpuMsPerRequest';
type StreamMetric = 'ttfbP50' | 'ttfbP99' | 'totalP50';

/** A figure per target, and the same figure compared within each round with a baseline. */
interface Figure {
  label: string;
  unit: string;
  values: Partial<Record<TargetName, number>>;
  /** `difference`: added (target − baseline); `ratio`: target ÷ baseline. */
  compare: 'difference' | 'ratio';
  against: (target: TargetName, base: TargetName) => number;
  digits: number;
  /** False where a baseline near zero makes a ratio meaningless (memory growth). */
  ratios?: false;
}

export function computeFigures(data: RunData) {
  const { rounds } = data;
  const jsonFigure = (kind: Kind, metric: JsonMetric, label: string, unit: string, compare: Figure['compare'], digits: number): Figure => ({
    label,
    unit,
    values: Object.fromEntries(TARGETS.map((t) => [t, medianOf(rounds.map((r) => r[kind][t][metric]))])),
    compare,
    against: (t, b) =>
      medianOf(rounds.map((r) => (compare === 'difference' ? r[kind][t][metric] - r[kind][b][metric] : r[kind][t][metric] / r[kind][b][metric]))),
    digits,
  });
  const streamFigure = (metric: StreamMetric, label: string): Figure => ({
    label,
    unit: 'ms',
    values: Object.fromEntries(TARGETS.map((t) => [t, medianOf(rounds.map((r) => r.streams[t][metric]))])),
    compare: 'difference',
    against: (t, b) => medianOf(rounds.map((r) => r.streams[t][metric] - r.streams[b][metric])),
    digits: 2,
  });
  const coldFigure = (metric: 'firstMs' | 'secondMs' | 'startMs', label: string): Figure => {
    const values = Object.fromEntries(
      (['bare', 'gateway', 'portkey'] as const).map((t) => [t, medianOf(data.cold.filter((c) => c.name === t).map((c) => c[metric]))]),
    ) as Partial<Record<TargetName, number>>;
    return { label, unit: 'ms', values, compare: 'ratio', against: (t, b) => values[t]! / values[b]!, digits: 1 };
  };
  const memory: Figure = {
    label: 'Peak RSS of the process under load',
    unit: 'MiB',
    values: data.peakRss,
    compare: 'ratio',
    against: (t, b) => data.peakRss[t] / data.peakRss[b],
    digits: 1,
  };
  const perTarget = (f: (s: LargeStream) => number) =>
    Object.fromEntries(Object.entries(data.largeStream).map(([t, s]) => [t, f(s)])) as Partial<Record<TargetName, number>>;
  const firstGrowth = perTarget((s) => s.first.rssPeakMiB - s.first.rssBeforeMiB);
  const secondGrowth = perTarget(secondPassGrowth);
  const rate = perTarget((s) => LARGE_STREAM_BYTES / 1024 / 1024 / (medianOf(s.alternating) / 1000));
  const mb = LARGE_STREAM_BYTES / 1024 / 1024;
  const largeFigures: Figure[] = data.plan.largeStream
    ? [
        {
          label: `${mb} MB SSE stream, first: RSS growth`,
          unit: 'MiB',
          values: firstGrowth,
          compare: 'difference',
          against: (t, b) => firstGrowth[t]! - firstGrowth[b]!,
          digits: 1,
          ratios: false,
        },
        {
          label: `${mb} MB SSE stream, second: RSS above the first’s peak`,
          unit: 'MiB',
          values: secondGrowth,
          compare: 'difference',
          against: (t, b) => secondGrowth[t]! - secondGrowth[b]!,
          digits: 1,
          ratios: false,
        },
        {
          label: `${mb} MB SSE stream: transfer rate (median of the alternating rounds; the ratio, of their ratios)`,
          unit: 'MiB/s',
          values: rate,
          compare: 'ratio',
          against: (t, b) => largeStreamShare(data.largeStream[t]!, data.largeStream[b]!),
          digits: 0,
        },
      ]
    : [];
  const bundle: Figure = {
    label: 'Worker bundle, gzipped (`wrangler deploy --dry-run`)',
    unit: 'KiB',
    values: { gateway: data.bundle.gzipBytes / 1024 },
    compare: 'ratio',
    against: () => Number.NaN,
    digits: 1,
  };
  return [
    jsonFigure('sequential', 'p50', 'Latency p50, sequential', 'ms', 'difference', 3),
    jsonFigure('sequential', 'p99', 'Latency p99, sequential', 'ms', 'difference', 3),
    jsonFigure('concurrent', 'p50', `Latency p50, concurrency ${CONCURRENCY}`, 'ms', 'difference', 2),
    jsonFigure('concurrent', 'p99', `Latency p99, concurrency ${CONCURRENCY}`, 'ms', 'difference', 2),
    jsonFigure('concurrent', 'rps', `Throughput, concurrency ${CONCURRENCY}`, 'req/s', 'ratio', 0),
    jsonFigure('sequential', 'rps', 'Throughput, sequential', 'req/s', 'ratio', 0),
    streamFigure('ttfbP50', 'Stream first byte p50, sequential'),
    streamFigure('ttfbP99', 'Stream first byte p99, sequential'),
    streamFigure('totalP50', `Stream duration p50 (${data.plan.streamChunks} events, ${data.plan.streamPaceMs} ms apart)`),
    jsonFigure('sequential', 'cpuMsPerRequest', 'CPU time per request, sequential', 'ms', 'difference', 3),
    jsonFigure('concurrent', 'cpuMsPerRequest', `CPU time per request, concurrency ${CONCURRENCY}`, 'ms', 'difference', 3),
    coldFigure('firstMs', 'First request after start (cold)'),
    coldFigure('secondMs', 'Second request after start'),
    coldFigure('startMs', 'Process start until ready'),
    memory,
    ...largeFigures,
    bundle,
  ];
}

const fmt = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function comparison(figure: Figure, target: TargetName, base: TargetName): string {
  if (figure.values[target] === undefined || figure.values[base] === undefined) return '–';
  const value = figure.against(target, base);
  if (!Number.isFinite(value)) return '–';
  if (figure.compare === 'ratio') return `×${fmt(value, 2)}`;
  const baseValue = figure.values[base]!;
  const ratio = baseValue > 0 && figure.ratios !== false ? ` (×${fmt(figure.values[target]! / baseValue, 2)})` : '';
  return `${value >= 0 ? '+' : ''}${fmt(value, figure.digits)}${ratio}`;
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
}

export function computeGoals(data: RunData, figures: ReturnType<typeof computeFigures>): Goal[] {
  const byLabel = (prefix: string) => figures.find((f) => f.label.startsWith(prefix))!;
  const seqP50 = byLabel('Latency p50, sequential');
  const c32P50 = byLabel(`Latency p50, concurrency`);
  const rps = byLabel(`Throughput, concurrency`);
  const ttfb = byLabel('Stream first byte p50');
  const addedSeq = seqP50.against('gateway', 'bare');
  const throughputShare = rps.against('gateway', 'bare');
  const oursSeq = seqP50.against('gateway', 'direct');
  const theirsSeq = seqP50.against('portkey', 'direct');
  const oursC32 = c32P50.against('gateway', 'direct');
  const theirsC32 = c32P50.against('portkey', 'direct');
  const versusPortkey = rps.against('gateway', 'portkey');
  const ttfbAdded = ttfb.against('gateway', 'bare');
  const cpuOurs = medianOf(data.rounds.map((r) => r.concurrent.gateway.cpuMsPerRequest));
  const cpuTheirs = medianOf(data.rounds.map((r) => r.concurrent.portkey.cpuMsPerRequest));
  const goals: Goal[] = [
    { goal: 'Median added latency over (b), sequential', target: '< 0.5 ms', measured: `${fmt(addedSeq, 3)} ms`, met: addedSeq < 0.5 },
    {
      goal: `Throughput at concurrency ${CONCURRENCY}, share of (b)`,
      target: '≥ 60 %',
      measured: `${fmt(throughputShare * 100, 0)} %`,
      met: throughputShare >= 0.6,
    },
    {
      goal: 'Added latency over (a) below Portkey’s (p50 sequential; p50 c=32)',
      target: 'below',
      measured: `${fmt(oursSeq, 3)} vs ${fmt(theirsSeq, 3)} ms; ${fmt(oursC32, 2)} vs ${fmt(theirsC32, 2)} ms`,
      met: oursSeq < theirsSeq && oursC32 < theirsC32,
    },
    { goal: `Throughput at concurrency ${CONCURRENCY} against Portkey’s`, target: '≥ ×1.3', measured: `×${fmt(versusPortkey, 2)}`, met: versusPortkey >= 1.3 },
    {
      goal: `CPU time per request at concurrency ${CONCURRENCY}, against Portkey’s`,
      target: '≤',
      measured: `${fmt(cpuOurs, 3)} vs ${fmt(cpuTheirs, 3)} ms`,
      met: cpuOurs <= cpuTheirs,
    },
    { goal: 'Stream first byte added over (b), p50', target: '< 1 ms', measured: `${fmt(ttfbAdded, 3)} ms`, met: ttfbAdded < 1 },
  ];
  const farRounds = data.rounds.filter((r) => r.sequentialFarObject);
  if (farRounds.length > 0) {
    const grown = medianOf(farRounds.map((r) => r.sequentialFarObject!.p50 - r.sequential.gateway.p50));
    goals.push({
      goal: `Far-object mode (+${data.farObjectMs} ms per call to the user’s object): growth of the added p50 over (b), sequential`,
      target: '< 1 ms',
      measured: `${fmt(grown, 3)} ms`,
      met: grown < 1,
    });
  }
  const large = data.largeStream.gateway;
  if (large) {
    const grown = secondPassGrowth(large);
    goals.push({
      goal: `Memory flat while streaming ${LARGE_STREAM_BYTES / 1024 / 1024} MB (second pass above the first’s peak; first pass ${fmt(large.first.rssPeakMiB - large.first.rssBeforeMiB, 1)} MiB)`,
      target: `< ${FLAT_MIB} MiB`,
      measured: `${fmt(grown, 1)} MiB`,
      met: grown < FLAT_MIB,
    });
    const bare = data.largeStream.bare;
    if (bare) {
      const share = largeStreamShare(large, bare);
      goals.push({
        goal: `${LARGE_STREAM_BYTES / 1024 / 1024} MB stream throughput, share of (b) (median of ${large.alternating.length} alternating rounds)`,
        target: '≥ 50 %',
        measured: `${fmt(share * 100, 0)} %`,
        met: share >= 0.5,
      });
    }
  }
  const kib = data.bundle.gzipBytes / 1024;
  goals.push({ goal: 'Worker bundle, gzipped', target: '< 100 KiB', measured: `${fmt(kib, 1)} KiB`, met: kib < 100 });
  return goals;
}

/** Growth under which memory counts as flat while another 100 MB pass: a small fraction of them. */
export const FLAT_MIB = 16;

/** Far-object mode beside the gateway as measured: what a caller far from the user's object pays, when the run measured it. */
function farObjectSection(data: RunData): string[] {
  const rounds = data.rounds.filter((r) => r.sequentialFarObject);
  if (rounds.length === 0) return [];
  const rows: [string, (r: RoundResult) => Measured][] = [
    ['the user’s object nearby (the figures above)', (r) => r.sequential.gateway],
    [`every call to the user’s object ${data.farObjectMs} ms later`, (r) => r.sequentialFarObject!],
  ];
  return [
    '## A caller far from the user’s object',
    '',
    `The same gateway with every call to a user’s Durable Object answered ${data.farObjectMs} ms later (bench/far-object.js), as for a caller on another continent: ` +
      'requests are admitted against leases, and settles leave after the answer, so only a lease’s renewal waits for the object.',
    '',
    '| Gateway, user’s object | p50 sequential, ms | added over (b), ms | p99 sequential, ms |',
    '|---|--:|--:|--:|',
    ...rows.map(
      ([label, pick]) =>
        `| ${label} | ${fmt(medianOf(rounds.map((r) => pick(r).p50)), 3)} | ${fmt(medianOf(rounds.map((r) => pick(r).p50 - r.sequential.bare.p50)), 3)} | ${fmt(medianOf(rounds.map((r) => pick(r).p99)), 3)} |`,
    ),
    '',
  ];
}

/** The cache-hit row beside the bare Worker and the uncached gateway, when the run measured it. */
function cacheHitSection(data: RunData): string[] {
  const rounds = data.rounds.filter((r) => r.cacheHit);
  if (rounds.length === 0) return [];
  const rows: [string, (r: RoundResult) => Measured, (r: RoundResult) => Measured][] = [
    [LABELS.bare, (r) => r.sequential.bare, (r) => r.concurrent.bare],
    [`${LABELS.gateway}, uncached (MISS path: the upstream is called)`, (r) => r.sequential.gateway, (r) => r.concurrent.gateway],
    [`${LABELS.gateway}, cache HIT`, (r) => r.cacheHit!.sequential, (r) => r.cacheHit!.concurrent],
  ];
  return [
    '## Cache hits',
    '',
    'The same JSON chat request with `X-Switchyard-Cache-Ttl`, answered from the Workers Cache API (Miniflare’s local one) after its first call: ' +
      'authentication and the rate limiter still run on every request; the upstream is not called.',
    '',
    `| Target | p50 sequential, ms | p99 sequential, ms | req/s at concurrency ${CONCURRENCY} | × (b) req/s | p50 / p99 at concurrency ${CONCURRENCY}, ms | CPU per request, ms |`,
    '|---|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      ([label, seq, conc]) =>
        `| ${label} | ${fmt(medianOf(rounds.map((r) => seq(r).p50)), 3)} | ${fmt(medianOf(rounds.map((r) => seq(r).p99)), 3)} | ${fmt(medianOf(rounds.map((r) => conc(r).rps)), 0)} | ×${fmt(medianOf(rounds.map((r) => conc(r).rps / r.concurrent.bare.rps)), 2)} | ${fmt(medianOf(rounds.map((r) => conc(r).p50)), 1)} / ${fmt(medianOf(rounds.map((r) => conc(r).p99)), 1)} | ${fmt(medianOf(rounds.map((r) => seq(r).cpuMsPerRequest)), 3)} |`,
    ),
    '',
  ];
}

export function markdown(data: RunData): string {
  const figures = computeFigures(data);
  const goals = computeGoals(data, figures);
  const lines = [
    `# Switchyard benchmark results`,
    '',
    `${data.date.slice(0, 10)} · gateway ${data.gateway} · ${data.machine.cores} cores (${data.machine.cpu}) · Node ${data.machine.node} · ` +
      `${data.quick ? 'quick run' : 'full run'}: ${data.plan.rounds} rounds, median of the per-round medians · load average at start ${fmt(data.machine.loadAverage, 2)}`,
    '',
    'Same requests, same stand-in upstream, same run. (a) the upstream called directly; (b) a bare pass-through Worker in workerd; ' +
      '(c) Switchyard as deployed (auth, rate limiting consulted on every request, key choice) in workerd; (d) Portkey’s gateway on Node. ' +
      'Comparisons are computed within each round, then the median taken: `+x` is time added, `×r` the ratio. How to rerun and what each figure means: docs/benchmarks.md.',
    '',
    `| Figure | unit | ${TARGETS.map((t) => LABELS[t]).join(' | ')} | (c) vs (b) | (c) vs (a) | (d) vs (a) | (c) vs (d) |`,
    `|---|---|${TARGETS.map(() => '--:').join('|')}|--:|--:|--:|--:|`,
    ...figures.map(
      (f) =>
        `| ${f.label} | ${f.unit} | ${TARGETS.map((t) => fmt(f.values[t], f.digits)).join(' | ')} | ${comparison(f, 'gateway', 'bare')} | ${comparison(f, 'gateway', 'direct')} | ${comparison(f, 'portkey', 'direct')} | ${comparison(f, 'gateway', 'portkey')} |`,
    ),
    '',
    '## Targets (issue 19: leases)',
    '',
    'Issue 19’s goals; flat memory while streaming and the bundle size are earlier rounds’ goals, kept in view.',
    '',
    '| Goal | target | measured | met |',
    '|---|---|---|---|',
    ...goals.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? 'yes' : '**no**'} |`),
    '',
    '## The rate limiter’s storage',
    '',
    'The figures above keep the Durable Objects’ SQLite files on tmpfs: every statement and RPC of the limiter runs, but its commits never wait for this machine’s disk. ' +
      'The same gateway with the files on disk (Miniflare’s default), measured in the same rounds, shows what one local durable write per request adds; ' +
      'on Cloudflare a write is made durable by replication, which delays the limiter’s answer but not other requests.',
    '',
    '| Gateway, Durable Object storage | p50 sequential, ms | added over (b), ms | p99 sequential, ms | CPU per request, ms |',
    '|---|--:|--:|--:|--:|',
    ...(
      [
        ['tmpfs (the figures above)', (r: RoundResult) => r.sequential.gateway],
        ['disk', (r: RoundResult) => r.sequentialObjectsOnDisk],
      ] as const
    ).map(
      ([label, pick]) =>
        `| ${label} | ${fmt(medianOf(data.rounds.map((r) => pick(r).p50)), 3)} | ${fmt(medianOf(data.rounds.map((r) => pick(r).p50 - r.sequential.bare.p50)), 3)} | ${fmt(medianOf(data.rounds.map((r) => pick(r).p99)), 3)} | ${fmt(medianOf(data.rounds.map((r) => pick(r).cpuMsPerRequest)), 3)} |`,
    ),
    '',
    ...farObjectSection(data),
    ...cacheHitSection(data),
    '## The hot path, stage by stage',
    '',
    'Each stage of a chat request run in a loop inside workerd, with the gateway’s own bindings and the upstream answered by a stub ' +
      '(bench/hot-path-worker.ts): where the time added over (b) goes. The whole request includes building the request and reading the answer in JavaScript, which the runtime does natively for (b).',
    '',
    hotPathTable(data.hotPath),
    '',
    '## Per round',
    '',
    `| Round | (c) − (b) p50 seq, ms | (c) − (a) p50 seq, ms | (d) − (a) p50 seq, ms | (c) ÷ (b) req/s c=${CONCURRENCY} | (c) ÷ (d) req/s c=${CONCURRENCY} |`,
    '|--:|--:|--:|--:|--:|--:|',
    ...data.rounds.map(
      (r, i) =>
        `| ${i + 1} | ${fmt(r.sequential.gateway.p50 - r.sequential.bare.p50, 3)} | ${fmt(r.sequential.gateway.p50 - r.sequential.direct.p50, 3)} | ${fmt(r.sequential.portkey.p50 - r.sequential.direct.p50, 3)} | ×${fmt(r.concurrent.gateway.rps / r.concurrent.bare.rps, 2)} | ×${fmt(r.concurrent.gateway.rps / r.concurrent.portkey.rps, 2)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

const DOCS_START = '<!-- bench:results:start -->';
const DOCS_END = '<!-- bench:results:end -->';

/** Put a run's report between the markers of docs/benchmarks.md (the latest figures live there too). */
export function updateDocs(docsPath: string, data: RunData): void {
  const docs = readFileSync(docsPath, 'utf8');
  const start = docs.indexOf(DOCS_START);
  const end = docs.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error(`${docsPath} lacks the ${DOCS_START} … ${DOCS_END} markers`);
  // The report's own title and its per-round table stay in bench/results/results.md.
  const body = markdown(data)
    .replace(/^# .*\n\n/, '')
    .replace(' How to rerun and what each figure means: docs/benchmarks.md.', '')
    .replace(/\n## Per round[\s\S]*$/, '\n')
    .replace(/^## /gm, '### ');
  writeFileSync(docsPath, `${docs.slice(0, start + DOCS_START.length)}\n${body}${docs.slice(end)}`);
}

export function writeReport(dir: string, data: RunData): string[] {
  const figures = computeFigures(data);
  const files = {
    'results.md': markdown(data),
    'results.svg': barChart(data, figures),
    'results.json': `${JSON.stringify(data, null, 1)}\n`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return Object.keys(files).map((name) => join(dir, name));
}

// `npx tsx bench/report.ts [bench/results/results.json]`: render a run's report again from its raw
// data, without measuring (after a change to the report itself). A run in bench/results updates the docs.
if (import.meta.url === `file://${process.argv[1]}`) {
  const json = process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), 'results/results.json');
  const data = JSON.parse(readFileSync(json, 'utf8')) as RunData;
  const written = writeReport(dirname(json), data);
  if (resolve(dirname(json)) === resolve(dirname(new URL(import.meta.url).pathname), 'results')) {
    updateDocs(join(dirname(new URL(import.meta.url).pathname), '../docs/benchmarks.md'), data);
    written.push('docs/benchmarks.md');
  }
  console.log(written.join('\n'));
}
