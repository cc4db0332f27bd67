// Child processes of a bench run: forked with an IPC channel, each reports readiness (and its port)
// as its first message, and is stopped by its own pid.
import { type ChildProcess, fork, type ForkOptions } from 'node:child_process';
import { once } from 'node:events';
import type { DrainResult, Job, JsonResult, OnceResult, StreamsResult } from './load';

export interface Child {
  process: ChildProcess;
  pid: number;
  /** The first message the child sent (its port, or `{ ready: true }`). */
  hello: Record<string, unknown>;
  stop: () => Promise<void>;
}

const STARTUP_TIMEOUT_MS = 30_000;

export async function forkChild(modulePath: string, args: string[], options: ForkOptions): Promise<Child> {
  const child = fork(modulePath, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], ...options });
  const hello = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${modulePath} did not start within ${STARTUP_TIMEOUT_MS / 1000} s`)), STARTUP_TIMEOUT_MS);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message as Record<string, unknown>);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${modulePath} exited with ${code} before it was ready`));
    });
  });
  return {
    process: child,
    pid: child.pid!,
    hello,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** TypeScript children run under tsx's loader, in one process (no tsx CLI wrapper process). */
export const TS_EXEC_ARGV = ['--import', 'tsx'];

type Result<J extends Job> = J['op'] extends 'json'
  ? JsonResult
  : J['op'] extends 'streams'
    ? StreamsResult
    : J['op'] extends 'drain'
      ? DrainResult
      : OnceResult;

/** The load process (bench/load.ts): one job at a time. */
export class LoadClient {
  private nextId = 0;
  private constructor(private readonly child: Child) {}

  static async start(): Promise<LoadClient> {
    return new LoadClient(await forkChild(new URL('./load.ts', import.meta.url).pathname, [], { execArgv: TS_EXEC_ARGV }));
  }

  run<J extends Job>(job: J): Promise<Result<J>> {
    const id = this.nextId++;
    this.child.process.send({ id, job });
    return new Promise((resolve, reject) => {
      const onMessage = (message: { id: number; result?: Result<J>; error?: string }) => {
        if (message.id !== id) return;
        this.child.process.off('message', onMessage);
        if (message.error !== undefined) reject(new Error(`load: ${message.error}`));
        else resolve(message.result!);
      };
      this.child.process.on('message', onMessage);
    });
  }

  get pid() {
    return this.child.pid;
  }

  stop() {
    return this.child.stop();
  }
}
