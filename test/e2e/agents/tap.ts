import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

// A transparent relay between an agent and the gateway on 127.0.0.1, noting what the agent sends
// as shipped (paths, bodies, its tools) and what the gateway answers (status, headers). Bodies
// stream through as they come: an agent's SSE reaches it event by event, as without the tap.

export interface TappedExchange {
  method: string;
  /** Path with query string. */
  path: string;
  /** The agent's request body. */
  body: string;
  status: number;
  /** The gateway's response headers, lowercased names. */
  responseHeaders: Record<string, string | string[] | undefined>;
}

export interface Tap {
  /** The URL to point the agent at instead of the gateway's. */
  url: string;
  exchanges: TappedExchange[];
  close(): Promise<void>;
}

export async function tapGateway(gatewayUrl: string): Promise<Tap> {
  const gateway = new URL(gatewayUrl);
  const exchanges: TappedExchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = request(
        { host: gateway.hostname, port: gateway.port, method: req.method, path: req.url, headers: { ...req.headers, host: gateway.host } },
        (answer) => {
          exchanges.push({
            method: req.method ?? '',
            path: req.url ?? '',
            body: body.toString('utf8'),
            status: answer.statusCode ?? 0,
            responseHeaders: answer.headers,
          });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exchanges,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The JSON bodies the agent sent on paths containing `path`, oldest first. */
export const sentBodies = (tap: Tap, path: string): Record<string, any>[] =>
  tap.exchanges.filter((e) => e.method === 'POST' && e.path.includes(path)).map((e) => JSON.parse(e.body));
