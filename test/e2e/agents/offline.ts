import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// The agents' way out, closed and watched: a proxy on 127.0.0.1 that refuses every request and
// CONNECT it gets and notes where it was headed. Only 127.0.0.1 (the gateway) bypasses it, so a CLI
// that phones home (telemetry, update checks, its vendor's API) shows up in `attempts`.

export interface ClosedNetwork {
  /** Hosts (or URLs) the CLI tried to reach other than 127.0.0.1, oldest first. */
  attempts: string[];
  /** Proxy variables for the CLI's environment. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function closeNetwork(): Promise<ClosedNetwork> {
  const attempts: string[] = [];
  const server = createServer((req, res) => {
    attempts.push(req.url ?? '');
    res.writeHead(403).end();
  });
  server.on('connect', (req, socket) => {
    attempts.push(req.url ?? '');
    socket.on('error', () => {}); // the client may reset the connection it was refused
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const noProxy = '127.0.0.1,localhost';
  return {
    attempts,
    env: {
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      ALL_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      all_proxy: proxy,
      NO_PROXY: noProxy,
      no_proxy: noProxy,
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
