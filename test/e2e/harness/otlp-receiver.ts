import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

// An OTLP/HTTP receiver on 127.0.0.1 that answers as a collector does (200, an empty
// ExportTraceServiceResponse) and keeps every export request as it arrived: path, headers, body.
// It refuses, as the collector's OTLP/HTTP receiver does, what is not a POST of JSON or protobuf.

export interface ReceivedExport {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface OtlpReceiver {
  url: string;
  exports: ReceivedExport[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      if (!/^application\/(json|x-protobuf)\b/.test(type)) {
        res.writeHead(415, { 'content-type': 'text/plain' }).end(`415 unsupported media type, supported: [application/json, application/x-protobuf]`);
        return;
      }
      exports.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
