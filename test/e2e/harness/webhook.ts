import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

// A webhook receiver on 127.0.0.1 for the gateway's alerts: it checks each post's signature the way
// the README tells a receiver to, and fails the first `failFirst` posts of every alert key with a 500
// (so each alert is seen retried), then answers 200.

export interface ReceivedPost {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The alert key the post names (X-Switchyard-Alert-Key). */
  key: string;
  /** X-Switchyard-Signature checked with the shared secret, within 5 minutes. */
  signatureValid: boolean;
  /** What the receiver answered. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  posts: ReceivedPost[];
  /** Posts the receiver took (answered 200). */
  delivered(): ReceivedPost[];
  close(): Promise<void>;
}

/** The README's check: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, t within `toleranceS` of now. */
export function signatureIsValid(header: string | undefined, body: string, secret: string, toleranceS = 300): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) return false;
  const [, t, v1] = match;
  if (Math.abs(Date.now() / 1000 - Number(t)) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1!, 'hex'));
}

export async function startWebhookReceiver(options: { secret: string; failFirst?: number }): Promise<WebhookReceiver> {
  const posts: ReceivedPost[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = String(req.headers['x-switchyard-alert-key'] ?? '');
      const earlier = posts.filter((p) => p.key === key).length;
      const status = req.method === 'POST' && earlier >= (options.failFirst ?? 0) ? 200 : 500;
      const signatureValid = signatureIsValid(req.headers['x-switchyard-signature'] as string | undefined, body, options.secret);
      posts.push({ at: Date.now(), headers: req.headers, body, key, signatureValid, status });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'receiver down');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/switchyard`,
    posts,
    delivered: () => posts.filter((p) => p.status === 200),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
