// `npm run soak [-- --minutes M] [--concurrency N]`: the gateway under `wrangler dev` with the stand-in
// providers, sent a mixed load (bench/soak-mix.ts) for M minutes (default 10; fractions allowed) after a
// 10 s warm-up; then every usage record is read back and matched to the answers that owe one, and
// workerd's resident memory at the start, middle and end of the load is reported. Exits 1 when a record
// is lost, doubled or written for a refusal, or when workerd logged an uncaught exception of the gateway's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { uncaughtLines, WORKERD_DISCONNECT } from '../test/e2e/harness/gateway';
import { numberOption } from './args';
import { rssMiB } from './proc';
import { KINDS, type Kind, type Outcome, picker, sendOne } from './soak-mix';
import { checkRecords, type RecordCheck } from './soak-records';
import { type Rig, SOAK_IDLE_TIMEOUT_MS, startRig, type Workerd } from './soak-rig';
import { TOOL_ENV } from './workers';

Object.assign(process.env, TOOL_ENV);

const minutes = numberOption('--minutes', 10);
const concurrency = numberOption('--concurrency', 8);
if (!(minutes > 0 && minutes <= 24 * 60) || !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
  console.error('usage: npm run soak -- --minutes M (0 < M ≤ 1440, fractions allowed) [--concurrency N (1-64, default 8)]');
  process.exit(2);
}

const WARMUP_MS = 10_000;
/** Stand-in stream pace: a stream of a few words lasts tens of ms, the abort kind's 60 words ~0.6 s. */
const STREAM_PACE_MS = 10;
/**
 * Settles run after the answer and the object flushes to D1 ~2 s after a settle; a client that left
 * without workerd telling is settled once the idle timeout has passed.
 */
const SETTLE_MS = SOAK_IDLE_TIMEOUT_MS + 5_000;
const SAMPLE_MS = 1_000;
const loadMs = minutes * 60_000;
/** The whole run stops itself: start (≤ 2 min), load, the last requests' timeout, settle and read-back. */
const WATCHDOG_MS = WARMUP_MS + loadMs + 5 * 60_000;
const ROOT = new URL('..', import.meta.url).pathname;

const started = performance.now();
const say = (message: string) => console.error(`[soak ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);

let rig: Rig | undefined;
const watchdog = setTimeout(() => {
  say(`still running after ${(WATCHDOG_MS / 60_000).toFixed(1)} min: stopping`);
  void (rig?.stop() ?? Promise.resolve()).finally(() => process.exit(3));
}, WATCHDOG_MS);
watchdog.unref();
process.on('SIGINT', () => void (rig?.stop() ?? Promise.resolve()).finally(() => process.exit(130)));

/** Resident memory of each workerd at one moment, in MiB, by role; `atS` counts from the end of the warm-up. */
interface RssPoint {
  atS: number;
  gateway: number;
  proxy: number;
}
const pct = (part: number, whole: number) => (whole === 0 ? 0 : (part / whole) * 100);

async function soak(rig: Rig) {
  const outcomes: Outcome[] = [];
  const upstream = { requests: 0, faulted: 0 };
  const drainStandIn = () => {
    // The stand-in keeps every request it served: count them and let them go, so the soak's own memory stays flat.
    upstream.requests += rig.standIn.requests.length;
    upstream.faulted += rig.standIn.requests.filter((r) => r.fault).length;
    rig.standIn.requests.length = 0;
  };

  const loadStart = Date.now();
  const measuredFrom = loadStart + WARMUP_MS;
  const endAt = measuredFrom + loadMs;
  const rss: { start?: RssPoint; middle?: RssPoint; end?: RssPoint; samples: RssPoint[] } = { samples: [] };
  const of = (role: Workerd['role']) => rig.workerd.filter((w) => w.role === role).reduce((sum, w) => sum + rssMiB(w.pid), 0);
  const sample = (): RssPoint => {
    const point = { atS: (Date.now() - measuredFrom) / 1000, gateway: of('gateway'), proxy: of('proxy') };
    rss.samples.push(point);
    return point;
  };
  let lastProgress = Date.now();
  const sampler = setInterval(() => {
    const now = Date.now();
    if (now >= measuredFrom) {
      const point = sample();
      if (!rss.start) rss.start = point;
      if (!rss.middle && now >= measuredFrom + loadMs / 2) rss.middle = point;
    }
    drainStandIn();
    if (now - lastProgress >= 30_000) {
      lastProgress = now;
      const answered = outcomes.filter((o) => o.status > 0).length;
      say(`${outcomes.length} requests (${answered} answered), the gateway's workerd ${rss.samples.at(-1)?.gateway.toFixed(1) ?? '-'} MiB`);
    }
  }, SAMPLE_MS);

  const next = picker(20);
  let serial = 0;
  const worker = async () => {
    while (Date.now() < endAt) {
      const kind = next();
      outcomes.push(await sendOne(rig.gateway.url, rig.standIn, kind, serial++));
    }
  };
  say(`load: ${WARMUP_MS / 1000} s warm-up, then ${minutes} min at concurrency ${concurrency}`);
  await Promise.all(Array.from({ length: concurrency }, worker));
  rss.end = sample();
  clearInterval(sampler);
  drainStandIn();
  const loadSeconds = (Date.now() - loadStart) / 1000;

  say(`load done: ${outcomes.length} requests in ${loadSeconds.toFixed(0)} s; waiting ${SETTLE_MS / 1000} s for settles and flushes`);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const records = await checkRecords(rig.gateway.url, outcomes);
  return { outcomes, upstream, loadSeconds, rss, records, faultsLeft: rig.standIn.faults.length };
}

type Result = Awaited<ReturnType<typeof soak>>;

function tally<T extends string>(items: T[]): [T, number][] {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

const statusClass = (o: Outcome) => (o.status === 0 ? 'none' : `${Math.floor(o.status / 100)}xx`);

function summarise(result: Result, uncaught: string[], disconnects: number) {
  const { outcomes, records, rss } = result;
  const byKind = {} as Record<Kind, Record<string, number>>;
  for (const kind of KINDS) {
    const mine = outcomes.filter((o) => o.kind === kind);
    const classes = Object.fromEntries(tally(mine.map(statusClass)));
    byKind[kind] = { sent: mine.length, ...classes, aborted: mine.filter((o) => o.aborted).length, owesRecord: mine.filter((o) => o.owesRecord).length };
  }
  const growth = (role: Workerd['role']) => (rss.start && rss.end ? pct(rss.end[role] - rss.start[role], rss.start[role]) : Number.NaN);
  const peak = (role: Workerd['role']) => Math.max(...rss.samples.map((point) => point[role]));
  const failed = records.lost.length > 0 || records.duplicates.length > 0 || records.unowed.length > 0 || uncaught.length > 0;
  // The same exception logged many times: each message once, with its count.
  const uncaughtMessages = Object.fromEntries(tally(uncaught.map((line) => line.replace(/^.*?\bUncaught\b\s*/i, '').trim())));
  return {
    date: new Date().toISOString(),
    minutes,
    concurrency,
    machine: { cores: cpus().length, loadAverage: loadavg()[0]! },
    loadSeconds: result.loadSeconds,
    requests: outcomes.length,
    statusClasses: Object.fromEntries(tally(outcomes.map(statusClass))),
    errorAnswers: Object.fromEntries(tally(outcomes.filter((o) => o.status >= 400).map((o) => `${o.status} ${o.code}`))),
    streamErrorEvents: Object.fromEntries(tally(outcomes.filter((o) => o.status < 400 && o.code).map((o) => `${o.kind}: ${o.code}`))),
    noAnswer: Object.fromEntries(tally(outcomes.filter((o) => o.status === 0).map((o) => `${o.kind}: ${o.failure}`))),
    byKind,
    upstream: { ...result.upstream, faultsLeftQueued: result.faultsLeft },
    records,
    rssMiB: {
      start: rss.start,
      middle: rss.middle,
      end: rss.end,
      growthPct: { gateway: growth('gateway'), proxy: growth('proxy') },
      peak: { gateway: peak('gateway'), proxy: peak('proxy') },
      samples: rss.samples,
    },
    uncaught: uncaughtMessages,
    /** workerd's own `Network connection lost.` reports of client disconnects (WORKERD_DISCONNECT): counted, not failed on. */
    workerdDisconnectReports: disconnects,
    failed,
  };
}

const list = (entries: Record<string, number>) =>
  Object.keys(entries).length
    ? Object.entries(entries)
        .map(([name, n]) => `${name} ${n}`)
        .join(', ')
    : 'none';

function print(s: ReturnType<typeof summarise>, file: string) {
  const r: RecordCheck = s.records;
  const rss = s.rssMiB;
  const mib = (role: Workerd['role']) =>
    (['start', 'middle', 'end'] as const).map((at) => `${at} ${rss[at]?.[role].toFixed(1) ?? '-'}`).join(', ') +
    ` MiB; growth ${rss.growthPct[role].toFixed(1)} %, peak ${rss.peak[role].toFixed(1)} MiB`;
  const lines = [
    `soak: ${s.minutes} min at concurrency ${s.concurrency} (+${WARMUP_MS / 1000} s warm-up), ${s.machine.cores} cores, load average ${s.machine.loadAverage.toFixed(2)} at the end`,
    `requests sent        ${s.requests} in ${s.loadSeconds.toFixed(0)} s (${(s.requests / s.loadSeconds).toFixed(1)}/s); answers: ${list(s.statusClasses)}`,
    `error answers        ${list(s.errorAnswers)}`,
    `stream error events  ${list(s.streamErrorEvents)}`,
    `no answer            ${list(s.noAnswer)}`,
    `upstream             ${s.upstream.requests} requests reached the stand-ins, ${s.upstream.faulted} with an injected fault (${s.upstream.faultsLeftQueued} faults left unused)`,
    '',
    `${'kind'.padEnd(16)}${['sent', '2xx', '4xx', '5xx', 'none', 'aborted', 'owe rec.'].map((h) => h.padStart(9)).join('')}`,
    ...KINDS.map((kind) => {
      const k = s.byKind[kind];
      return `${kind.padEnd(16)}${[k.sent, k['2xx'], k['4xx'], k['5xx'], k.none, k.aborted, k.owesRecord].map((n) => String(n ?? 0).padStart(9)).join('')}`;
    }),
    '',
    `records              answers owing one ${r.owed}, written ${r.written} (in D1 ${r.inD1}, pending ${r.pending}); lost ${r.lost.length}, doubled ${r.duplicates.length}`,
    `                     records for refused answers ${r.unowed.length}; records of requests that got no answer ${r.unanswered}`,
    `                     aborted streams: ${r.abortedOwed}, of which recorded as client_closed_request ${r.abortedClientClosed}; cache: ${r.hitAnswers} HIT answers, ${r.hitRecords} hit records`,
    ...(r.lost.length
      ? [
          `  lost by kind: ${list(Object.fromEntries(tally(r.lost.map((o) => `${o.kind} ${o.status}${o.aborted ? ' aborted' : ''}${o.code ? ` ${o.code}` : ''}`))))}`,
        ]
      : []),
    ...r.lost.slice(0, 10).map((o) => `  lost: ${o.id} (${o.kind})`),
    ...(r.duplicates.length ? [`  doubled ids: ${r.duplicates.slice(0, 20).join(', ')}`] : []),
    ...(r.unowed.length ? [`  records for refusals: ${r.unowed.slice(0, 20).join(', ')}`] : []),
    `workerd RSS          the gateway's: ${mib('gateway')} (samples at ${(['start', 'middle', 'end'] as const).map((at) => `${rss[at]?.atS.toFixed(0) ?? '-'} s`).join(', ')})`,
    `                     wrangler's proxy: ${mib('proxy')}`,
    `uncaught exceptions  ${list(s.uncaught)}`,
    `                     workerd's own disconnect reports (not the gateway's, see WORKERD_DISCONNECT): ${s.workerdDisconnectReports}`,
    '',
    `${s.failed ? 'FAILED' : 'ok'}: ${file}`,
  ];
  console.log(lines.join('\n'));
}

try {
  say(`starting the stand-ins and wrangler dev`);
  rig = await startRig(STREAM_PACE_MS);
  if (rig.workerd.filter((w) => w.role === 'gateway').length !== 1) throw new Error(`expected one workerd serving the gateway: ${JSON.stringify(rig.workerd)}`);
  say(`gateway at ${rig.gateway.url}; workerd ${rig.workerd.map((w) => `${w.pid} (${w.role})`).join(', ')}`);
  const result = await soak(rig);
  // Uncoloured (workerd colours its lines even with NO_COLOR set): written beside the report below.
  const logs = stripVTControlCharacters(rig.gateway.logs());
  const uncaught = uncaughtLines(logs);
  const disconnects = logs.split('\n').filter((line) => WORKERD_DISCONNECT.test(line)).length;
  // stop() also throws on the uncaught lines it finds: they are reported below instead.
  await rig.stop().catch(() => {});
  rig = undefined;
  const summary = summarise(result, uncaught, disconnects);
  const dir = join(ROOT, 'bench/.tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${summary.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  // What wrangler dev printed (the worker's log lines included), to look into any finding.
  writeFileSync(file.replace(/\.json$/, '.log'), logs);
  print(summary, file.slice(ROOT.length));
  process.exitCode = summary.failed ? 1 : 0;
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await rig?.stop().catch(() => {});
  clearTimeout(watchdog);
}
