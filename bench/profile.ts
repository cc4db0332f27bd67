// `npx tsx bench/profile.ts [--stream | --large | --cache] [--seconds N] [--connections N]`: a CPU profile of the gateway's
// isolate in workerd under bench load, through the inspector, summarised by source file and function
// (mapped back to src/ with the bundle's source map). Writes bench/.tmp/gateway.cpuprofile, which
// Chrome DevTools opens. This is how the hot path was found; the figures come from bench/run.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, relative } from 'node:path';
import { flag, numberOption } from './args';
import { BENCH_USER_KEY, JSON_BODY, LARGE_BODY, STREAM_BODY } from './config';
import { inspect, runWithWebSocket } from './inspector';
import { forkChild, LoadClient, TS_EXEC_ARGV } from './processes';
import { benchVault, buildGateway, GATEWAY_WORKER, startGateway, TOOL_ENV } from './workers';

runWithWebSocket();
Object.assign(process.env, TOOL_ENV);

// --large: the 100 MB stream, one at a time (the relay's per-chunk cost).
const large = flag('--large');
// --cache: the JSON request answered from the gateway's cache (after its first call).
const cached = flag('--cache');
const streaming = large || flag('--stream');
const seconds = numberOption('--seconds', 8);
const connections = numberOption('--connections', large ? 1 : streaming ? 8 : 32);
const ROOT = new URL('..', import.meta.url).pathname;
const TMP = join(ROOT, 'bench/.tmp');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
/** The profiler's sampling interval, µs. */
const SAMPLING_US = 100;
/**
 * A sample this long after the one before marks a gap in sampling (the process descheduled, the
 * thread in a native call the sampler did not interrupt), not time spent in the sample's frame: a
 * sequential profile once charged two gaps of 276 and 400 ms to D1's `toJson`, 8 % of the run.
 */
const GAP_US = 20 * SAMPLING_US;

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const bundle = await buildGateway(join(TMP, 'build'));
const sourceMap = new SourceMap(JSON.parse(readFileSync(`${bundle.path}.map`, 'utf8')));
const upstream = await forkChild(new URL('./upstream.ts', import.meta.url).pathname, [], { execArgv: TS_EXEC_ARGV });
const upstreamOrigin = `http://127.0.0.1:${upstream.hello.port}`;
const load = await LoadClient.start();
const gateway = await startGateway(bundle, await benchVault(upstreamOrigin), { inspectorPort: 0 });
try {
  const target = {
    url: `${gateway.url}/openai/v1/chat/completions`,
    headers: { authorization: `Bearer ${BENCH_USER_KEY}`, ...(cached ? { 'x-switchyard-cache-ttl': '86400' } : {}) },
    body: large ? LARGE_BODY : streaming ? STREAM_BODY : JSON_BODY,
  };
  const run = (secs: number) =>
    streaming
      ? load.run({ op: 'streams', connections, count: large ? Math.max(1, Math.round(secs / 2)) : Math.round(secs * connections * 8), ...target })
      : load.run({ op: 'json', connections, requests: 1_000_000, seconds: secs, ...target });
  await run(1);
  const inspectorUrl = new URL(`/core:user:${GATEWAY_WORKER}`, await gateway.mf.getInspectorURL());
  const cdp = await inspect(inspectorUrl.href);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_US });
  await cdp.send('Profiler.start');
  const result = await run(seconds);
  const { profile } = await cdp.send<{ profile: Profile }>('Profiler.stop');
  cdp.close();
  writeFileSync(join(TMP, 'gateway.cpuprofile'), JSON.stringify(profile));
  console.log(`load: ${JSON.stringify(result)}`);
  summarise(profile);
} finally {
  await gateway.dispose();
  await load.stop();
  await upstream.stop();
}

function summarise(profile: Profile) {
  const selfUs = new Map<number, number>();
  let gapsUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const us = delta > GAP_US ? SAMPLING_US : delta;
    gapsUs += delta - us;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  console.log(`sampler gaps over ${GAP_US / 1000} ms, left out: ${(gapsUs / 1000).toFixed(0)} ms`);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const where = (frame: ProfileNode['callFrame']) => {
    if (!frame.url.endsWith('index.js')) return { file: frame.url || frame.functionName, line: frame.lineNumber + 1 };
    const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number };
    const file = entry.originalSource ? relative(ROOT, new URL(entry.originalSource, `file://${bundle.path}`).pathname) : 'bundle';
    return { file, line: (entry.originalLine ?? frame.lineNumber) + 1 };
  };
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const top = (title: string, rows: Map<string, number>, count: number) => {
    console.log(`\n${title} (share of non-idle samples, ${(busy / 1000).toFixed(0)} ms)`);
    for (const [key, us] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${pct(us)}  ${key}`);
  };
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const { file, line } = where(frame);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    const key = `${frame.functionName || '(anonymous)'}  ${file}:${line}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  // Inclusive time of functions in src/: a node's own samples plus its subtree's, counted once per stack.
  const inclusive = new Map<string, number>();
  const visit = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    let us = selfUs.get(id) ?? 0;
    const { file, line } = where(node.callFrame);
    const key = `${node.callFrame.functionName || '(anonymous)'}  ${file}:${line}`;
    const mine = file.startsWith('src/') && !onStack.has(key);
    if (mine) onStack.add(key);
    for (const child of node.children ?? []) us += visit(child, onStack);
    if (mine) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
    return us;
  };
  visit(profile.nodes[0]!.id, new Set());
  top('Self time by source file', byFile, 25);
  top('Self time by function', byFunction, 30);
  top('Inclusive time of src/ functions', inclusive, 30);
}
