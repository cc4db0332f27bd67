// What the kernel knows about a process (Linux /proc): CPU time used, resident memory now and at peak.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU time the process has used, in ms (10 ms resolution). */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  // After the name: state is index 0, so utime (field 14) is index 11 and stime (field 15) index 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) : Number.NaN;
}

/** Resident memory now, in MiB. */
export const rssMiB = (pid: number) => statusKb(pid, 'VmRSS') / 1024;
/** Highest resident memory since the process started, in MiB. */
export const peakRssMiB = (pid: number) => statusKb(pid, 'VmHWM') / 1024;

/** Pids of this process's children running `command` (e.g. the workerd that Miniflare spawned). */
export function childPids(command: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === command && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // The process ended while the list was read.
    }
  }
  return pids;
}

/** Pids of this process's descendants at any depth running `command` (the workerd under `wrangler dev`). */
export function descendantPids(command: string): number[] {
  const parents = new Map<number, { ppid: number; name: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      parents.set(Number(entry), { ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), name });
    } catch {
      // The process ended while the list was read.
    }
  }
  const descends = (pid: number): boolean => {
    for (let up = parents.get(pid)?.ppid; up !== undefined && up > 1; up = parents.get(up)?.ppid) if (up === process.pid) return true;
    return false;
  };
  return [...parents].filter(([pid, { name }]) => name === command && descends(pid)).map(([pid]) => pid);
}

/** Sample a process's resident memory every `everyMs` until stopped; returns the highest seen, in MiB. */
export function sampleRss(pid: number, everyMs = 20): { stop: () => number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      clearInterval(timer);
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}
