import { spawn } from 'node:child_process';

// One agent CLI run, bounded: the CLI and everything it starts (MCP servers, shells, a native binary
// behind an npm wrapper) form one process group, killed when the run ends or its time is up.

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the run was killed at its time limit. */
  timedOut: boolean;
}

export interface AgentRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
};

// Groups still running when the test process exits (a test timed out or failed mid-run).
const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) killGroup(pid, 'SIGKILL');
});

export function runAgent(command: string, args: string[], options: AgentRunOptions): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) running.add(child.pid);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid!, 'SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // An MCP server or shell the CLI left behind goes with it.
      killGroup(child.pid!, 'SIGKILL');
      running.delete(child.pid!);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut });
    });
  });
}
