// Targets (b) and (c) in workerd through Miniflare's API — the runtime Workers run in, without
// `wrangler dev`'s Node proxy in front. Each worker gets its own Miniflare, hence its own workerd
// process, so CPU time and memory are the worker's own.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Log, LogLevel, Miniflare, type MiniflareOptions, type WorkerOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { encryptVault } from '../src/vault/crypto';
import { VAULT_KEY } from '../src/vault/keys';
import { BENCH_PROVIDER_KEY, BENCH_USER_KEY, BENCH_USER_RPM, BENCH_VAULT_TOKEN, LARGE_MODEL, SMALL_MODEL } from './config';
import { childPids } from './proc';

const ROOT = new URL('..', import.meta.url).pathname;
/** The gateway's worker name in Miniflare (its inspector target is `core:user:<name>`). */
export const GATEWAY_WORKER = 'switchyard';
export const TOOL_ENV = { WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

export interface Bundle {
  path: string;
  bytes: number;
  gzipBytes: number;
  /** The wrangler config whose bindings the worker gets (default: this checkout's). */
  config?: string;
}

/**
 * The gateway exactly as `wrangler deploy` would upload it (`--dry-run --outdir`), and its size.
 * `source` is the checkout to build (another one compares two versions with the same harness).
 */
export async function buildGateway(outdir: string, source = ROOT): Promise<Bundle> {
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: source,
    env: { ...process.env, ...TOOL_ENV },
  });
  const path = join(outdir, 'index.js');
  const code = readFileSync(path);
  return { path, bytes: code.length, gzipBytes: gzipSync(code).length, config: join(source, 'wrangler.jsonc') };
}

export interface WorkerTarget {
  url: string;
  pid: number;
  mf: Miniflare;
  /** Time from `new Miniflare` to workerd accepting requests. */
  startMs: number;
  dispose: () => Promise<void>;
}

/**
 * workerd's output, less one line (and its stack) per connection the load generator closed with an
 * answer in flight: autocannon ends a timed block that way, and each would read as an error here.
 */
function runtimeOutput(stdout: Readable, stderr: Readable) {
  // Not `pipe`: each of a run's many workerd processes would leave listeners on process.stdout.
  stdout.on('data', (chunk: Buffer) => process.stdout.write(chunk));
  let skipStack = false;
  createInterface({ input: stderr }).on('line', (line) => {
    const closedByClient = /disconnected: .*(Broken pipe|Connection reset by peer)/.test(line);
    if (closedByClient || (skipStack && line.startsWith('stack:'))) {
      skipStack = closedByClient;
      return;
    }
    skipStack = false;
    process.stderr.write(`${line}\n`);
  });
}

/** Shared options of both Miniflares; `extra` adds e.g. an inspector port (bench/profile.ts). */
async function startWorker(worker: WorkerOptions, extra: Partial<MiniflareOptions> = {}): Promise<WorkerTarget> {
  const before = new Set(childPids('workerd'));
  const started = performance.now();
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio: runtimeOutput,
    ...extra,
    workers: [worker],
  } as MiniflareOptions);
  const url = await mf.ready;
  const startMs = performance.now() - started;
  const pids = childPids('workerd').filter((pid) => !before.has(pid));
  if (pids.length !== 1) throw new Error(`expected one new workerd process, found ${pids.length}`);
  const pid = pids[0]!;
  // A script that dies before its dispose has stopped workerd (an uncaught error, e.g. EPIPE once `head`
  // closed its output) would leave it running: it is stopped as the script exits.
  const stopAtExit = () => {
    try {
      process.kill(pid);
    } catch {
      // Already gone.
    }
  };
  process.once('exit', stopAtExit);
  // The hook goes once workerd is gone: a script that dies while disposing still stops it.
  const dispose = async () => {
    await mf.dispose();
    process.off('exit', stopAtExit);
  };
  return { url: url.origin, pid, mf, startMs, dispose };
}

/** The wrangler config's compatibility settings: the bare worker runs under the same ones. */
function wranglerWorkerOptions(config = join(ROOT, 'wrangler.jsonc')) {
  return unstable_getMiniflareWorkerOptions(config).workerOptions;
}

/** Target (b): bench/bare-worker.js, forwarding to the upstream. */
export function startBareWorker(upstreamOrigin: string): Promise<WorkerTarget> {
  const { compatibilityDate, compatibilityFlags } = wranglerWorkerOptions();
  return startWorker({
    name: 'bare',
    modules: true,
    scriptPath: new URL('./bare-worker.js', import.meta.url).pathname,
    compatibilityDate,
    compatibilityFlags,
    bindings: { UPSTREAM: upstreamOrigin },
  });
}

/** The vault the gateway reads: one OpenAI-compatible provider whose endpoint is the bench upstream. */
export function benchVault(upstreamOrigin: string): Promise<string> {
  const config = {
    version: 1,
    providers: {
      openai: {
        protocol: 'openai',
        endpoint: `${upstreamOrigin}/v1`,
        keys: [{ key: BENCH_PROVIDER_KEY, owner: 'bench', type: 'paid' }],
        // Priced: every request's record gets a cost, and the user's budget is reserved and settled.
        models: [
          { id: SMALL_MODEL, usage: 'chat', inputPrice: 0.15, outputPrice: 0.6 },
          { id: LARGE_MODEL, usage: 'chat', inputPrice: 0.15, outputPrice: 0.6 },
        ],
      },
    },
  };
  return encryptVault(JSON.stringify(config), BENCH_VAULT_TOKEN);
}

/**
 * Where the Durable Objects' SQLite files live. `memory` (tmpfs) for the figures: every statement and
 * RPC of the limiter runs, but its commits never wait for this machine's disk, which is not how
 * Cloudflare makes a write durable (it replicates it, delaying only that object's answer). `disk`
 * (Miniflare's default) is measured alongside, to show what local durable writes add here.
 */
export type ObjectStorage = 'memory' | 'disk';
const TMPFS = '/dev/shm';

/**
 * Target (c): the dry-run bundle with every binding wrangler.jsonc declares (KV, Durable Objects, vars
 * — whatever it declares when the bench runs), KV seeded with the vault and a `users` map. Static
 * assets are left out: on Cloudflare they are served before the Worker runs, and the bare worker has none.
 */
export async function startGateway(
  bundle: Bundle,
  vaultText: string,
  { objectStorage = 'memory', farObjectMs, ...extra }: Partial<MiniflareOptions> & { objectStorage?: ObjectStorage; farObjectMs?: number } = {},
): Promise<WorkerTarget> {
  const { assets: _assets, ...options } = wranglerWorkerOptions(bundle.config);
  // Far-object mode: bench/far-object.js around the bundle delays every call to a user's object.
  let scriptPath = bundle.path;
  if (farObjectMs !== undefined) {
    scriptPath = join(dirname(bundle.path), 'far-object.js');
    copyFileSync(new URL('./far-object.js', import.meta.url).pathname, scriptPath);
  }
  const objectsDir = objectStorage === 'memory' ? mkdtempSync(join(existsSync(TMPFS) ? TMPFS : tmpdir(), 'switchyard-bench-')) : undefined;
  const target = await startWorker(
    {
      ...options,
      name: GATEWAY_WORKER,
      modules: true,
      scriptPath,
      // The bundle imported by far-object.js is an ES module too (Miniflare takes other `.js` files for CommonJS).
      modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }],
      bindings: { ...options.bindings, AI_JSON_CRYPTOKEN: BENCH_VAULT_TOKEN, ...(farObjectMs === undefined ? {} : { FAR_OBJECT_MS: String(farObjectMs) }) },
    } as WorkerOptions,
    { durableObjectsPersist: objectsDir, ...extra },
  );
  if (objectsDir) {
    const dispose = target.dispose;
    target.dispose = async () => {
      await dispose();
      rmSync(objectsDir, { recursive: true, force: true });
    };
  }
  const kv = await target.mf.getKVNamespace('KV_AI_PROXY');
  await kv.put(VAULT_KEY, vaultText);
  // The users map (KV key `users`): one user, rate limited and with budgets, but never refused, so
  // every request pays for metering as deployed (admitted against a lease, settled, records to D1).
  await kv.put('users', JSON.stringify({ bench: { key: BENCH_USER_KEY, rpm: BENCH_USER_RPM, monthlyBudgetUsd: 1e9, dailyTokens: 1e15 } }));
  // No D1 setup: the gateway applies its own schema on first use, as deployed.
  return target;
}
