// A minimal Chrome DevTools Protocol client, for a worker's inspector (bench/profile.ts, bench/heap.ts).
import { spawnSync } from 'node:child_process';

/** Node 20 has WebSocket behind a flag: without it, this script runs again with it (and exits with its status). */
export function runWithWebSocket() {
  if (typeof WebSocket !== 'undefined') return;
  const again = spawnSync(process.execPath, ['--experimental-websocket', ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}

/** A client of the inspector at `url`: commands sent, their results awaited. */
export async function inspect(url: string) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve as (result: unknown) => void);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}
