// The hot path stage by stage (bench/hot-path-worker.ts) in workerd with the gateway's own bindings:
// `npx tsx bench/hot-path.ts`, and part of every `npm run bench`. Each stage runs n times inside one
// request; its cost is (wall time − an empty request's) / n, the median over rounds.
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { medianOf } from './stats';
import { benchVault, startGateway, TOOL_ENV } from './workers';

const ROOT = new URL('..', import.meta.url).pathname;

export interface StageCost {
  stage: string;
  /** Microseconds per call. */
  us: number;
}

/** Iterations per request: Durable Object calls count against workerd's subrequest limit. */
const iterations = (stage: string) =>
  stage.startsWith('whole') || stage.startsWith('settle') || stage.startsWith('D1') ? 150 : stage.includes('Durable Object') ? 300 : 2000;

/** `source`: the checkout whose src/ the stages import (as `npm run bench -- --source` compares). */
export async function measureHotPath(rounds: number, source = ROOT): Promise<StageCost[]> {
  const outfile = join(ROOT, 'bench/.tmp/hot-path/index.js');
  const fromSource: Plugin = {
    name: 'stages-from-source',
    setup: (b) => b.onResolve({ filter: /^\.\.\/src\// }, (args) => ({ path: `${join(source, args.path.slice('../'.length))}.ts` })),
  };
  await build({
    plugins: [fromSource],
    entryPoints: [join(ROOT, 'bench/hot-path-worker.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'warning',
  });
  // The stages stub the upstream: the vault's endpoint is never called.
  const worker = await startGateway({ path: outfile, bytes: 0, gzipBytes: 0 }, await benchVault('http://127.0.0.1:9'));
  try {
    const call = async (stage: string, n: number) => {
      const started = performance.now();
      const res = await fetch(`${worker.url}/?stage=${encodeURIComponent(stage)}&n=${n}`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`hot path stage "${stage}": ${res.status} ${body.slice(0, 300)}`);
      return performance.now() - started;
    };
    const stages = (await (await fetch(worker.url)).json()) as string[];
    for (const stage of stages) await call(stage, 20);
    const samples = new Map<string, number[]>(stages.map((s) => [s, []]));
    for (let r = 0; r < rounds; r++) {
      for (const stage of stages) {
        const empty = medianOf([await call('empty loop', 1), await call('empty loop', 1), await call('empty loop', 1)]);
        const n = iterations(stage);
        samples.get(stage)!.push((((await call(stage, n)) - empty) * 1000) / n);
      }
    }
    return stages.filter((s) => s !== 'empty loop').map((stage) => ({ stage, us: medianOf(samples.get(stage)!) }));
  } finally {
    await worker.dispose();
  }
}

export function hotPathTable(costs: StageCost[]): string {
  return ['| Stage (bench/hot-path-worker.ts) | µs per request |', '|---|--:|', ...costs.map((c) => `| ${c.stage} | ${c.us.toFixed(1)} |`)].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Object.assign(process.env, TOOL_ENV);
  console.log(hotPathTable(await measureHotPath(Number(process.argv[2] ?? 5))));
}
