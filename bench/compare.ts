// `npx tsx bench/compare.ts [rounds] [seconds] [checkout …]`: the gateway of several checkouts (default:
// this one) beside the bare Worker in one run, on JSON at concurrency 32 and sequentially, round after
// round: throughput, its share of the bare Worker's, the workerd process's CPU per request and the
// sequential p50 added. For trying a change against the commit before it; `npm run bench` is the
// measurement of record. Another checkout needs node_modules (a link to this one's) and its generated
// modules (`node scripts/embed-config.mjs` there).
import { join, resolve } from 'node:path';
import { BENCH_USER_KEY, CONCURRENCY, JSON_BODY } from './config';
import { cpuMs } from './proc';
import { forkChild, LoadClient, TS_EXEC_ARGV } from './processes';
import { medianOf } from './stats';
import { benchVault, buildGateway, startBareWorker, startGateway, TOOL_ENV, type WorkerTarget } from './workers';
Object.assign(process.env, TOOL_ENV);
const rounds = Number(process.argv[2] ?? 4);
const secs = Number(process.argv[3] ?? 3);
const ROOT = new URL('..', import.meta.url).pathname;
const sources = process.argv.length > 4 ? process.argv.slice(4).map((dir) => resolve(dir)) : [ROOT];
const upstream = await forkChild(new URL('./upstream.ts', import.meta.url).pathname, [], { execArgv: TS_EXEC_ARGV });
const origin = `http://127.0.0.1:${upstream.hello.port}`;
const load = await LoadClient.start();
const targets: Record<string, { w: WorkerTarget; url: string; headers: Record<string, string> }> = {};
const bare = await startBareWorker(origin);
targets.bare = { w: bare, url: `${bare.url}/v1/chat/completions`, headers: {} };
for (const [i, source] of sources.entries()) {
  const bundle = await buildGateway(join(ROOT, `bench/.tmp/compare/${i}`), source);
  const gw = await startGateway(bundle, await benchVault(origin));
  targets[source === ROOT ? 'this checkout' : source] = {
    w: gw,
    url: `${gw.url}/openai/v1/chat/completions`,
    headers: { authorization: `Bearer ${BENCH_USER_KEY}` },
  };
}
const out: Record<string, { rps: number[]; cpu: number[]; p50: number[] }> = {};
for (const name of Object.keys(targets)) out[name] = { rps: [], cpu: [], p50: [] };
try {
  for (const t of Object.values(targets))
    await load.run({ op: 'json', connections: CONCURRENCY, requests: 1e6, seconds: 1, url: t.url, headers: t.headers, body: JSON_BODY });
  for (let r = 0; r < rounds; r++) {
    for (const [name, t] of Object.entries(targets)) {
      const c0 = cpuMs(t.w.pid);
      const res = await load.run({ op: 'json', connections: CONCURRENCY, requests: 1e6, seconds: secs, url: t.url, headers: t.headers, body: JSON_BODY });
      const c1 = cpuMs(t.w.pid);
      out[name]!.rps.push(res.rps);
      out[name]!.cpu.push((c1 - c0) / res.requests);
      const seq = await load.run({ op: 'json', connections: 1, requests: 400, seconds: 2, url: t.url, headers: t.headers, body: JSON_BODY });
      out[name]!.p50.push(seq.p50);
    }
  }
} finally {
  for (const t of Object.values(targets)) await t.w.dispose();
  await load.stop();
  await upstream.stop();
}
console.log('| Gateway | req/s at c=32 | share of the bare Worker (per round) | CPU per request, ms | sequential p50, ms | added over the bare Worker, ms |');
console.log('|---|--:|--:|--:|--:|--:|');
for (const [name, o] of Object.entries(out)) {
  const ratios = o.rps.map((v, i) => v / out.bare!.rps[i]!);
  const added = o.p50.map((v, i) => v - out.bare!.p50[i]!);
  const share = `${(100 * medianOf(ratios)).toFixed(1)} % (${ratios.map((x) => (100 * x).toFixed(0)).join(' ')})`;
  console.log(
    `| ${name} | ${medianOf(o.rps).toFixed(0)} | ${share} | ${medianOf(o.cpu).toFixed(3)} | ${medianOf(o.p50).toFixed(3)} | ${medianOf(added).toFixed(3)} |`,
  );
}
