import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

// A pass-through in front of the stand-in providers that adds the CORS headers the real provider
// APIs send to browsers, so the vault editor's "Refresh from API" can read a model list from a page.
// The stand-in itself sends none: pointing the editor at it is how a CORS refusal is tested.

export interface CorsFront {
  url: string;
  close(): Promise<void>;
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization, x-api-key, anthropic-version, anthropic-dangerous-direct-browser-access, content-type',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
};

export async function startCorsFront(target: string): Promise<CorsFront> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS);
      res.end();
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...CORS });
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
