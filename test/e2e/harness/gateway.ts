import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outputLog } from './output';
import { run } from './run';

// Runs the real gateway with `wrangler dev` on 127.0.0.1, with fresh local KV and D1 seeded beforehand.

export { decryptWithOpenssl, encryptWithOpenssl } from './openssl';
export { demoUsers, demoVault, type DemoVaultOptions } from '../../../dev/demo-vault';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const WRANGLER = join(PROJECT_ROOT, 'node_modules/.bin/wrangler');
const READY_TIMEOUT_MS = 60_000;

export interface GatewayOptions {
  /** Worker vars, e.g. AI_JSON_CRYPTOKEN, CLOUDFLARE_AIG_TOKEN, CLOUDFLARE_ACCOUNT_ID, DEBUG. */
  vars?: Record<string, string>;
  /** Written to the local KV key `users` before start. */
  users?: Record<string, unknown>;
  /** Written to the local KV key `vault:ai.json.enc` before start. */
  vaultText?: string;
  /** SQL run on the local D1 database after the migrations (e.g. usage records: dev/usage-seed.ts). */
  d1Sql?: string;
  /** Start on the local state (KV, D1, Durable Objects) of a gateway stopped with `keepState`: a restart. */
  stateDir?: string;
  /** false: no `wrangler d1 migrations apply` before start (the worker brings its own schema). Default true. */
  migrate?: boolean;
  /** `wrangler dev --test-scheduled`: `GET /__scheduled?cron=<schedule>` runs the scheduled handler (the cron triggers). */
  testScheduled?: boolean;
}

export interface Gateway {
  url: string;
  /** Where its local state lives (pass to a later startGateway to restart on it). */
  stateDir: string;
  /** Stop wrangler; the local state is removed unless `keepState`. */
  stop(options?: { keepState?: boolean }): Promise<void>;
  /** Everything wrangler (and the worker's console) printed so far, stdout and stderr interleaved. */
  logs(): string;
  /** Resolves with the logs once they match (wrangler prints a request's line after its response). */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
}

/**
 * Environment for wrangler: no metrics, no network lookups (the banner's npm update check included),
 * no reload when someone edits wrangler.jsonc mid-run, no colours, no process.env leaking into the worker.
 */
function wranglerEnv(stateDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    WRANGLER_CI_DISABLE_CONFIG_WATCHING: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    WRANGLER_LOG_PATH: join(stateDir, 'wrangler-logs'),
  };
  delete env.CLOUDFLARE_INCLUDE_PROCESS_ENV;
  delete env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV;
  return env;
}

async function seedKv(stateDir: string, entries: { key: string; value: string }[]) {
  if (entries.length === 0) return;
  // One `wrangler kv bulk put` process writes every key: each wrangler start costs ~2 s.
  const file = join(stateDir, 'kv-seed.json');
  await writeFile(file, JSON.stringify(entries));
  const result = await run(WRANGLER, ['kv', 'bulk', 'put', file, '--binding', 'KV_AI_PROXY', '--local', '--persist-to', join(stateDir, 'persist')], {
    cwd: PROJECT_ROOT,
    env: wranglerEnv(stateDir),
  });
  if (result.code !== 0) throw new Error(`seeding local KV failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
}

/** The D1 schema of migrations/, applied to the gateway's local database before it serves; then `sql`. */
async function migrateD1(stateDir: string, sql?: string) {
  const result = await run(WRANGLER, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', join(stateDir, 'persist')], {
    cwd: PROJECT_ROOT,
    env: wranglerEnv(stateDir),
  });
  if (result.code !== 0) throw new Error(`applying D1 migrations failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  if (sql === undefined) return;
  const file = join(stateDir, 'd1-seed.sql');
  await writeFile(file, sql);
  const seeded = await run(WRANGLER, ['d1', 'execute', 'DB', '--local', '--persist-to', join(stateDir, 'persist'), '--file', file], {
    cwd: PROJECT_ROOT,
    env: wranglerEnv(stateDir),
  });
  if (seeded.code !== 0) throw new Error(`seeding D1 failed (exit ${seeded.code}):\n${seeded.stdout}\n${seeded.stderr}`);
}

// Process groups still running, killed if the test process exits without stop().
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is already gone
  }
}

// workerd colours its lines even with NO_COLOR set: in `ESC[1mUncaught` no word boundary comes before the U.
const ANSI_CODE = new RegExp(`${String.fromCharCode(27)}\\[[\\d;]*m`, 'g');

/**
 * workerd's own report of some client disconnects while a JavaScript stream relays a subrequest's
 * body: a 20-line worker that only relays a fetch prints it too (about 1 in 5 concurrent client
 * aborts; never when the body is passed through or produced by a timer), with no promise of the
 * worker left unhandled. Not an exception of the gateway's: every other `Uncaught` line is.
 */
export const WORKERD_DISCONNECT = /Uncaught Error: Network connection lost\.?\s*$/;

/** Lines of wrangler dev's output that report an exception nobody caught (workerd prints them as `Uncaught …`), uncoloured. */
export function uncaughtLines(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.replace(ANSI_CODE, ''))
    .filter((line) => /\buncaught\b/i.test(line) && !WORKERD_DISCONNECT.test(line));
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'switchyard-e2e-')));
  const entries = [
    ...(options.users ? [{ key: 'users', value: JSON.stringify(options.users) }] : []),
    ...(options.vaultText !== undefined ? [{ key: 'vault:ai.json.enc', value: options.vaultText }] : []),
  ];
  // Seeding (KV entries, then the D1 schema) is done before wrangler dev starts: run side by side, the
  // processes' SQLite files were sometimes locked against each other (SQLITE_BUSY killed wrangler dev).
  try {
    await seedKv(stateDir, entries);
    if (options.migrate !== false) await migrateD1(stateDir, options.d1Sql);
  } catch (err) {
    if (!options.stateDir) await rm(stateDir, { recursive: true, force: true });
    throw err;
  }

  // An empty --env-file replaces a developer's .dev.vars (wrangler reads one or the other).
  const envFile = join(stateDir, 'empty.env');
  await writeFile(envFile, '');
  const varArgs = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ['--var', `${name}:${value}`]);
  const args = [
    'dev',
    '--ip',
    '127.0.0.1',
    '--port',
    '0',
    '--inspector-port',
    '0',
    '--persist-to',
    join(stateDir, 'persist'),
    '--env-file',
    envFile,
    '--show-interactive-dev-session=false',
    ...(options.testScheduled ? ['--test-scheduled'] : []),
    ...varArgs,
  ];
  const child = spawn(WRANGLER, args, { cwd: PROJECT_ROOT, env: wranglerEnv(stateDir), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child.pid!);
  const output = outputLog();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => running.delete(child.pid!));

  const stop = async ({ keepState = false } = {}) => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    // workerd children can outlive wrangler by a moment: make sure the whole group is gone.
    killGroup(child, 'SIGKILL');
    if (!keepState) await rm(stateDir, { recursive: true, force: true });
    // Every e2e file stops its gateways: together they scan the whole suite's wrangler output.
    const uncaught = uncaughtLines(logs());
    if (uncaught.length > 0) throw new Error(`wrangler dev logged ${uncaught.length} uncaught exception(s):\n${uncaught.join('\n')}`);
  };
  const logs = () => output.text();
  const onData = (chunk: Buffer) => output.add(chunk.toString('utf8'));
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev was not ready after ${READY_TIMEOUT_MS} ms:\n${logs()}`)), READY_TIMEOUT_MS);
    void output.firstMatch(/Ready on (http:\/\/127\.0\.0\.1:\d+)/).then((ready) => {
      clearTimeout(timer);
      resolve(ready[1]!);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited before it was ready:\n${logs()}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });

  // "Ready" is printed when the socket listens; wait until the worker itself answers.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await (await fetch(`${url}/__harness/ready`)).arrayBuffer();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`wrangler dev at ${url} does not answer: ${String(err)}\n${logs()}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const waitForLog = async (pattern: RegExp | string, timeoutMs = 5_000) => {
    const until = Date.now() + timeoutMs;
    const found = () => (typeof pattern === 'string' ? logs().includes(pattern) : pattern.test(logs()));
    while (!found()) {
      if (Date.now() > until) throw new Error(`no log line matched ${String(pattern)} within ${timeoutMs} ms:\n${logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return logs();
  };
  return { url, stateDir, stop, logs, waitForLog };
}
