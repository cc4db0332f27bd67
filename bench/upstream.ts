// The stand-in upstream every target is pointed at: as little work per request as node:http allows,
// so that what the bench measures is the path in front of it. Not the test stand-ins (dev/stand-ins):
// those model every provider's wire format and faults; this one answers three fixed requests.
//   POST …/chat/completions {"model":"bench-small"}               a fixed chat.completion JSON
//   POST …/chat/completions {"model":"bench-small","stream":true} STREAM_CHUNKS SSE events, STREAM_PACE_MS apart
//   POST …/chat/completions {"model":"bench-100mb","stream":true} LARGE_STREAM_BYTES of SSE, as fast as the reader takes it
// Started by bench/run.ts with `fork`; it reports its port over IPC.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { LARGE_MODEL, LARGE_STREAM_BYTES } from './config';

const chunks = Number(process.env.STREAM_CHUNKS ?? 10);
const paceMs = Number(process.env.STREAM_PACE_MS ?? 10);

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'bench-small',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the bench upstream.' }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
});

const chunkEvent = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'bench-small',
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
  })}\n\n`;

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function paced(res: ServerResponse) {
  res.writeHead(200, SSE_HEADERS);
  res.write(chunkEvent('token 0 '));
  let sent = 1;
  const timer = setInterval(() => {
    if (sent < chunks) {
      res.write(chunkEvent(`token ${sent} `, sent === chunks - 1 ? 'stop' : null));
      sent++;
      return;
    }
    clearInterval(timer);
    res.end('data: [DONE]\n\n');
  }, paceMs);
  res.on('close', () => clearInterval(timer));
}

// 64 KiB writes of ~1 KiB events: the size of block a provider's stream never reaches, so the relay
// under test (not this server) is what is exercised.
const bigEvent = chunkEvent('x'.repeat(960));
const bigBlock = Buffer.from(bigEvent.repeat(Math.floor(65_536 / bigEvent.length)));

/** Resolves when the socket wants more, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

async function large(res: ServerResponse) {
  res.writeHead(200, SSE_HEADERS);
  let sent = 0;
  while (sent < LARGE_STREAM_BYTES && !res.destroyed) {
    sent += bigBlock.length;
    if (!res.write(bigBlock)) await drained(res);
  }
  res.end('data: [DONE]\n\n');
}

function handle(req: IncomingMessage, res: ServerResponse, body: string) {
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    return res.end('{"error":{"message":"not found","type":"invalid_request_error","code":"not_found"}}');
  }
  let request: { model?: string; stream?: boolean };
  try {
    request = JSON.parse(body);
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' });
    return res.end('{"error":{"message":"body is not JSON","type":"invalid_request_error","code":"invalid_json"}}');
  }
  if (request.stream) return request.model === LARGE_MODEL ? void large(res) : paced(res);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(completion);
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (part: string) => (body += part));
  req.on('end', () => handle(req, res, body));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('disconnect', () => process.exit(0));
