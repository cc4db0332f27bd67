import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Answer, type Incoming, send } from './answer';
import { TINY_PNG } from './conversation';
import { type Fault, parseFault, takeFault } from './faults';
import { type KeyLimit, KeyLimits } from './limits';
import { DIALECTS, type DialectName, routeOf } from './routes';

// Stand-in providers: one local HTTP server speaking OpenAI-compatible, Anthropic, Gemini and
// Cloudflare AI Gateway wire formats, recording every request and failing on demand.

export type { Fault } from './faults';
export type { KeyLimit } from './limits';

export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** Lowercased header names. */
  headers: Record<string, string>;
  /** UTF-8 text of the body (multipart bodies as they came). */
  body: string;
  /** The body's exact bytes, for binary uploads. */
  bytes: Buffer;
  /** Date.now() when the request arrived. */
  at: number;
  /** The dialect that served it, when the path names one. */
  dialect?: DialectName;
  /** The provider key it carried. */
  key?: string;
  /** The fault applied to it, if any. */
  fault?: Fault;
  /** Refused with 429 by its key's rate limit (setKeyLimit). */
  refused?: boolean;
}

export interface StandIn {
  url: string;
  requests: RecordedRequest[];
  faults: Fault[];
  /** Milliseconds between stream events (default 5); `x-stand-in-pace-ms` overrides per request. */
  paceMs: number;
  addFault(fault: Fault): void;
  /** That key (or AI Gateway token) is refused from now on, with the provider's real auth error. */
  revokeKey(key: string): void;
  /** Rate-limit a key (OpenAI and Anthropic dialects), told in its answers' headers (limits.ts). */
  setKeyLimit(limit: KeyLimit): void;
  /** Clears requests, faults and revoked keys. */
  reset(): void;
  close(): Promise<void>;
}

export interface StandInOptions {
  port?: number;
  host?: '127.0.0.1';
  paceMs?: number;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// Cloudflare AI Gateway's answer when an authenticated gateway gets no valid cf-aig-authorization.
const GATEWAY_UNAUTHORIZED: Answer = {
  kind: 'json',
  status: 401,
  body: { success: false, result: [], messages: [], error: [{ code: 2009, message: 'Unauthorized' }] },
};

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const revoked = new Set<string>();
  const limits = new KeyLimits();

  async function control(req: IncomingMessage, res: ServerResponse, pathname: string, body: string) {
    const route = `${req.method} ${pathname}`;
    try {
      switch (route) {
        case 'POST /__control/faults': {
          const value: unknown = JSON.parse(body);
          const added = (Array.isArray(value) ? value : [value]).map(parseFault);
          faults.push(...added);
          return json(res, 200, { ok: true, queued: faults.length });
        }
        case 'GET /__control/faults':
          return json(res, 200, faults);
        case 'POST /__control/revoke': {
          const { key } = JSON.parse(body) as { key?: unknown };
          if (typeof key !== 'string' || !key) return json(res, 400, { error: 'body must be {"key": "<key>"}' });
          revoked.add(key);
          return json(res, 200, { ok: true });
        }
        case 'POST /__control/limits': {
          const value: unknown = JSON.parse(body);
          for (const limit of Array.isArray(value) ? value : [value]) limits.set(limit as KeyLimit);
          return json(res, 200, { ok: true });
        }
        case 'POST /__control/reset':
          standIn.reset();
          return json(res, 200, { ok: true });
        case 'GET /__control/requests':
          return json(
            res,
            200,
            requests.map(({ bytes: _bytes, ...recorded }) => recorded),
          );
        default:
          return json(res, 404, { error: `no control route ${route}` });
      }
    } catch (err) {
      return json(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const bytes = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const body = bytes.toString('utf8');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname, body);
    if (req.method === 'GET' && url.pathname === '/__files/image.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(TINY_PNG.length) });
      return res.end(TINY_PNG);
    }

    const headers = headerRecord(req);
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, headers, body, bytes, at: Date.now() };
    requests.push(recorded);

    const route = routeOf(url.pathname);
    if (!route)
      return json(res, 404, { error: { message: `stand-in: no provider dialect serves ${url.pathname}`, type: 'invalid_request_error', code: 'unknown_url' } });
    recorded.dialect = route.dialect;
    const dialect = DIALECTS[route.dialect];
    const paceHeader = Number(headers['x-stand-in-pace-ms']);
    const pace = Number.isFinite(paceHeader) && paceHeader >= 0 ? paceHeader : standIn.paceMs;
    const incoming: Incoming = {
      method: recorded.method,
      operation: route.operation,
      query: url.searchParams,
      headers,
      body,
      bytes,
      json: headers['content-type']?.includes('multipart/') ? undefined : parseJson(body),
      origin: standIn.url,
    };
    const gatewayHeaders = route.gateway ? { 'cf-aig-cache-status': 'MISS' } : {};
    const reply = (answer: Answer, fault?: Fault) => send(res, { ...answer, headers: { ...answer.headers, ...gatewayHeaders } } as Answer, fault, pace);

    if (route.gateway) {
      const token = /^Bearer\s+(.+)$/i.exec(headers['cf-aig-authorization'] ?? '')?.[1]?.trim();
      if (!token || revoked.has(token)) return reply(GATEWAY_UNAUTHORIZED);
    }
    const key = dialect.keyOf(incoming);
    recorded.key = key;
    if (!key) return reply(dialect.authError('missing'));
    if (revoked.has(key)) return reply(dialect.authError('invalid'));
    const rejection = dialect.reject?.(incoming);
    if (rejection) return reply(rejection);

    const model = dialect.modelOf(incoming);
    if (route.gateway?.compat && model?.includes('/') && incoming.json) {
      // The unified endpoint takes `provider/model` and hands the provider the bare model.
      incoming.json = { ...incoming.json, model: model.slice(model.indexOf('/') + 1) };
    }
    let fault: Fault | undefined;
    try {
      const header = headers['x-stand-in-fault'];
      fault = header ? parseFault(JSON.parse(header)) : takeFault(faults, { key, model, path: recorded.path });
    } catch (err) {
      return json(res, 400, { error: `x-stand-in-fault: ${err instanceof Error ? err.message : String(err)}` });
    }
    recorded.fault = fault;
    if (fault?.hang) return;
    if (fault?.status) return reply(dialect.error(fault.status, { retryAfter: fault.retryAfter, message: fault.message, model }), fault);
    const limit = route.dialect === 'gemini' ? undefined : limits.take(key, incoming, route.dialect, dialect.error);
    if (limit?.refusal) {
      recorded.refused = true;
      return reply(limit.refusal, fault);
    }
    const answer = dialect.handle(incoming);
    return reply(limit ? ({ ...answer, headers: { ...answer.headers, ...limit.headers } } as Answer) : answer, fault);
  }

  const server = createServer({ noDelay: true }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: `stand-in failure: ${err instanceof Error ? err.message : String(err)}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const standIn: StandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    faults,
    paceMs: options.paceMs ?? 5,
    addFault(fault) {
      faults.push(parseFault(fault));
    },
    revokeKey(key) {
      revoked.add(key);
    },
    setKeyLimit(limit) {
      limits.set(limit);
    },
    reset() {
      requests.length = 0;
      faults.length = 0;
      revoked.clear();
      limits.clear();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return standIn;
}
