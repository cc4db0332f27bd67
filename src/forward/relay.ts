import { ANSWER_FAILED } from '../protocols/pivot/sse';

// The upstream body on its way to the client: read ahead only as far as failover needs (the first SSE
// event, or a whole small JSON body), then relayed chunk by chunk as it arrives. A stream whose upstream
// fails or falls silent ends with one well-formed SSE error event instead of a cut.

const LF = 10;
const CR = 13;

// Caps on what the gateway holds of an upstream body, so that no provider answer (or a stand-in
// pointed at) can grow an isolate's memory without bound.
/** An SSE event not yet ended by a blank line (real events are at most a few MiB: a large tool call). */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;
/** An upstream error answer: enough for any provider's error JSON, cut beyond. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** An upstream body (or one of its SSE events) larger than the gateway holds. */
export class UpstreamTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`upstream body over ${limit} bytes`);
  }
}

/**
 * Splits SSE bytes at event boundaries (a blank line, LF or CRLF framing): only whole events go to the
 * client, so an error event written after a failure never lands inside a half-sent event. Whole events
 * go on as views of the chunks they came in; only an event that spans chunks is joined (a copy of that
 * one event, not of the chunk it ends in).
 */
export class SseFramer {
  /** The bytes of an event not yet ended, as the views they came in. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  /** Whole events completed by `chunk`, as at most two views (possibly none). Throws UpstreamTooLarge past MAX_SSE_EVENT_BYTES. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let from = 0;
    if (this.pendingBytes > 0) {
      from = this.firstEventEnd(chunk);
      if (from === 0) {
        this.hold(chunk);
        return out;
      }
      out.push(joinAll([...this.pending, chunk.subarray(0, from)]));
      this.pending = [];
      this.pendingBytes = 0;
    }
    const end = lastEventEnd(chunk, Math.max(from, 1));
    if (end > from) out.push(chunk.subarray(from, end));
    const tail = chunk.subarray(Math.max(end, from));
    if (tail.length > 0) this.hold(tail);
    return out;
  }

  /** Bytes of an event not yet ended by a blank line. */
  rest(): Uint8Array {
    return this.pending.length === 1 ? this.pending[0]! : joinAll(this.pending);
  }

  private hold(bytes: Uint8Array) {
    // The last held view is kept at 2 bytes or more: firstEventEnd looks 2 bytes back into it.
    const last = this.pending.length - 1;
    if (last >= 0 && bytes.length < 2) this.pending[last] = joinAll([this.pending[last]!, bytes]);
    else this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes > MAX_SSE_EVENT_BYTES) throw new UpstreamTooLarge(MAX_SSE_EVENT_BYTES);
  }

  /** Index in `chunk` just past the first blank line that ends the pending event, or 0. */
  private firstEventEnd(chunk: Uint8Array): number {
    // The byte `back` places before chunk[i], looking into the pending bytes' end when it is before the chunk.
    const last = this.pending[this.pending.length - 1]!;
    const before = (i: number, back: number) => (i - back >= 0 ? chunk[i - back] : last.length + i - back >= 0 ? last[last.length + i - back] : undefined);
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if (before(i, 1) === LF || (before(i, 1) === CR && before(i, 2) === LF)) return i + 1;
    }
    return 0;
  }
}

/** Index just past the last blank line in `bytes` (searching from `from` on), or 0. */
function lastEventEnd(bytes: Uint8Array, from: number): number {
  for (let i = bytes.length - 1; i >= from; i--) {
    if (bytes[i] !== LF) continue;
    if (bytes[i - 1] === LF || (bytes[i - 1] === CR && bytes[i - 2] === LF)) return i + 1;
  }
  return 0;
}

/** Whether every `data:` payload of these whole SSE events is JSON (or OpenAI's `[DONE]`). */
export function sseDataIsJson(events: Uint8Array): boolean {
  for (const event of new TextDecoder().decode(events).split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n');
    if (data === '' || data === '[DONE]') continue;
    try {
      JSON.parse(data);
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * `promise`, rejected with the signal's reason as soon as `signal` aborts: a timeout or a leaving
 * client ends a wait on an upstream body even if that body never notices the abort itself.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface Head {
  /** Bytes ready for the client: whole SSE events, or the body read so far (a valid Response body). */
  bytes: Uint8Array<ArrayBuffer>;
  /** The upstream body ended within the head. */
  done: boolean;
}

/** What the relay needs of a body's reader. */
export interface BodyReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /**
   * At least `minBytes` in one call, fewer only where the body ends (`ended`); a body that is not a
   * byte stream gives one chunk of any size.
   */
  readAtLeast(minBytes: number): Promise<{ value?: Uint8Array; ended: boolean }>;
  cancel(reason?: unknown): Promise<void>;
}

/** Bounds of the buffer a body is read into: it grows while reads fill it and shrinks when they do not. */
const MIN_READ_BYTES = 16 * 1024;
const MAX_READ_BYTES = 256 * 1024;

/**
 * A reader of an upstream body whose reads end, rejected with the signal's reason, as soon as `signal`
 * aborts: a timeout or a leaving client ends a wait on a body that never notices the abort itself.
 * One abort listener serves every read (one added and removed per read cost more than the read).
 */
export function bodyReader(body: ReadableStream<Uint8Array>, signal: AbortSignal): BodyReader {
  const reader = chunkReader(body);
  let rejectRead: ((reason: unknown) => void) | undefined;
  signal.addEventListener('abort', () => rejectRead?.(signal.reason), { once: true });
  const endsOnAbort = <T>(read: () => Promise<T>): Promise<T> => {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      rejectRead = reject;
      read().then(resolve, reject);
    });
  };
  return {
    read: () => endsOnAbort(() => reader.read()),
    readAtLeast: (minBytes) => endsOnAbort(() => reader.readAtLeast(minBytes)),
    cancel: (reason) => reader.cancel(reason),
  };
}

/** workerd's BYOB reader: lib.dom's type does not declare its `readAtLeast`. */
type WorkerdByobReader = ReadableStreamBYOBReader & {
  readAtLeast<T extends ArrayBufferView>(minElements: number, view: T): Promise<ReadableStreamReadResult<T>>;
};

/**
 * A reader that takes as much as has arrived in one read: workerd's default reader hands its own
 * chunks of about 4 KiB one at a time, and each costs a read, a pull and an enqueue (the 100 MB bench
 * stream: 28 000 reads). A BYOB read resolves as soon as any bytes are there, so a slow stream's
 * events are not held back. Bodies that are not byte streams get the default reader.
 */
function chunkReader(body: ReadableStream<Uint8Array>): BodyReader {
  let byob: WorkerdByobReader;
  try {
    byob = body.getReader({ mode: 'byob' }) as WorkerdByobReader;
  } catch {
    const reader = body.getReader();
    return {
      read: () => reader.read(),
      readAtLeast: async () => {
        const { done, value } = await reader.read();
        return { value, ended: done };
      },
      cancel: (reason) => reader.cancel(reason),
    };
  }
  let size = MIN_READ_BYTES;
  return {
    async read() {
      const { done, value } = await byob.read(new Uint8Array(size));
      if (done || !value) return { done: true, value: undefined };
      if (value.length === size) size = Math.min(size * 2, MAX_READ_BYTES);
      else if (value.length < size / 4) size = Math.max(size / 2, MIN_READ_BYTES);
      return { done: false, value };
    },
    async readAtLeast(minBytes) {
      // workerd's BYOB readers fill the view until `minBytes` or the body's end, in one call: a small
      // answer is read, to its end, without the read that only finds the end.
      const { done, value } = await byob.readAtLeast(minBytes, new Uint8Array(minBytes));
      return { value, ended: done || !value || value.length < minBytes };
    },
    cancel: (reason) => byob.cancel(reason),
  };
}

/**
 * Read the start of a body: for SSE up to the end of the first event; otherwise the first chunk, or
 * with `whole` the entire body up to `maxBytes` (a JSON answer, checked before it is committed to).
 */
export function readHead(reader: BodyReader, mode: { framer?: SseFramer; whole?: boolean; maxBytes: number }): Promise<Head> {
  return mode.whole && !mode.framer ? readWhole(reader, mode.maxBytes) : readFirst(reader, mode.framer);
}

/** The first SSE event (with `framer`), or the first chunk. */
async function readFirst(reader: BodyReader, framer: SseFramer | undefined): Promise<Head> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      const rest = framer?.rest();
      if (rest?.length) parts.push(rest);
      return { bytes: joined(parts), done: true };
    }
    const ready = framer ? framer.push(value) : [value];
    parts.push(...ready);
    if (!framer || ready.length > 0) return { bytes: joined(parts), done: false };
  }
}

/**
 * The first read of a whole answer: most JSON answers fit. A larger view costs more to read into, even
 * for a small answer (workerd: ~40 µs more at 16 KiB, ~90 µs at 64 KiB, against 1 KiB).
 */
const FIRST_WHOLE_READ_BYTES = 1024;

/** A body read to its end, or to `maxBytes` and a little over (not done): the reads grow fourfold. */
async function readWhole(reader: BodyReader, maxBytes: number): Promise<Head> {
  const parts: Uint8Array[] = [];
  let size = 0;
  let want = FIRST_WHOLE_READ_BYTES;
  for (;;) {
    const { value, ended } = await reader.readAtLeast(want);
    if (value?.length) {
      parts.push(value);
      size += value.length;
    }
    if (ended) return { bytes: joined(parts), done: true };
    if (size >= maxBytes) return { bytes: joined(parts), done: false };
    want = Math.min(want * 4, MAX_READ_BYTES);
  }
}

/**
 * A body's first `maxBytes` bytes, and whether that was all of it; the rest is not read (cancelled).
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; complete: boolean }> {
  if (!body) return { bytes: new Uint8Array(0), complete: true };
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const read = reader.read();
    const { done, value } = await (signal ? abortable(read, signal) : read);
    if (done) return { bytes: joined(parts), complete: true };
    parts.push(value);
    size += value.length;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      return { bytes: joined(parts).subarray(0, maxBytes), complete: false };
    }
  }
}

// Chunks of a fetched body are backed by plain ArrayBuffers.
const joined = (parts: Uint8Array[]) => (parts.length === 1 ? parts[0]! : parts.length === 0 ? new Uint8Array(0) : joinAll(parts)) as Uint8Array<ArrayBuffer>;

function joinAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export type RelayFailure = 'upstream_failed' | 'idle_timeout' | 'event_too_large';

/** The abort reason when the client went away. */
export const CLIENT_CLOSED = 'client_closed';

export interface RelayOptions {
  /** Its reads end when `upstream` aborts (bodyReader). */
  reader: BodyReader;
  head: Head;
  /** Set for SSE bodies: events are passed whole, and a failure ends the stream with `errorEvent`. */
  framer?: SseFramer;
  errorEvent: (failure: RelayFailure) => string;
  idleTimeoutMs: number;
  /** Aborts the upstream request: on a long silence (`idle_timeout`) and when the client goes (`client_closed`). */
  upstream: AbortController;
  onFailure: (failure: RelayFailure) => void;
  /** Called once when the relay ends, with how it ended. */
  onEnd: (ending: RelayEnding) => void;
  /** Sees every block of whole events (or raw chunk) before the client does; returns what the client gets. */
  inspect?: (bytes: Uint8Array) => Uint8Array;
}

/** How a relay ended: the upstream body finished, the client left, or the upstream failed. */
export type RelayEnding = 'done' | typeof CLIENT_CLOSED | RelayFailure;

/** The client's body: the head, then the rest of the upstream body as it comes, pulled by the client. */
export function relay(options: RelayOptions): ReadableStream<Uint8Array> {
  const { reader, head, framer } = options;
  let lastChunkAt = Date.now();
  let idled = false;
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  let pulling = false;

  const watch = (delay: number) => {
    timer = setTimeout(() => {
      const silent = Date.now() - lastChunkAt;
      if (silent < options.idleTimeoutMs) return watch(options.idleTimeoutMs - silent);
      // Nothing read from the upstream for that long while no read was asked for: the client stopped
      // reading. workerd does not always tell (under load its request signal and the body's cancel
      // can both stay silent after a disconnect), and then nothing else would end this relay: the
      // upstream would be held, the usage never settled, the reservation never released.
      if (!pulling) return options.upstream.abort(CLIENT_CLOSED);
      idled = true;
      options.upstream.abort('idle_timeout');
    }, delay);
  };
  const end = (ending: RelayEnding) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    options.upstream.signal.removeEventListener('abort', onAbort);
    options.onEnd(ending);
  };
  // Closed, not errored: nobody reads on, and workerd logs a response body that errors as an uncaught
  // exception. (A cached call tells a cut answer from a whole one itself.)
  const clientLeft = () => {
    if (ended) return;
    end(CLIENT_CLOSED);
    reader.cancel().catch(() => {});
    controller.close();
  };
  // A client that leaves while no read is pending is noticed here, not only at the next pull.
  const onAbort = () => {
    if (options.upstream.signal.reason === CLIENT_CLOSED) clientLeft();
  };
  const inspect = options.inspect ?? ((bytes: Uint8Array) => bytes);

  /** One pull: read until something whole can go to the client, or the relay ends. */
  const pullOnce = async (): Promise<void> => {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch {
        reader.cancel().catch(() => {});
        // The client left (its request signal aborted the upstream): nobody to tell.
        if (options.upstream.signal.reason === CLIENT_CLOSED) return clientLeft();
        const failure: RelayFailure = idled ? 'idle_timeout' : 'upstream_failed';
        end(failure);
        options.onFailure(failure);
        if (!framer) return controller.error(new Error(`upstream body ${failure.replace('_', ' ')}`));
        controller.enqueue(new TextEncoder().encode(options.errorEvent(failure)));
        return controller.close();
      }
      lastChunkAt = Date.now();
      if (result.done) {
        const rest = framer?.rest();
        if (rest?.length) controller.enqueue(inspect(rest));
        end('done');
        return controller.close();
      }
      let whole: Uint8Array[];
      try {
        whole = framer ? framer.push(result.value) : [result.value];
      } catch (err) {
        if (!(err instanceof UpstreamTooLarge)) throw err;
        // An event that never ends: stop the upstream (no tokens spent for nobody) and say so.
        reader.cancel().catch(() => {});
        options.upstream.abort('event_too_large');
        end('event_too_large');
        options.onFailure('event_too_large');
        controller.enqueue(new TextEncoder().encode(options.errorEvent('event_too_large')));
        return controller.close();
      }
      let sent = false;
      for (const piece of whole) {
        const ready = inspect(piece);
        if (ready.length > 0) {
          controller.enqueue(ready);
          sent = true;
        }
      }
      if (sent) return;
    }
  };

  return new ReadableStream<Uint8Array>({
    start(control) {
      controller = control;
      const first = inspect(head.bytes);
      if (first.length > 0) controller.enqueue(first);
      if (head.done) {
        end('done');
        controller.close();
      } else {
        options.upstream.signal.addEventListener('abort', onAbort);
        watch(options.idleTimeoutMs);
      }
    },
    async pull() {
      pulling = true;
      try {
        await pullOnce();
      } finally {
        pulling = false;
      }
    },
    cancel(reason) {
      // The client went away, or a translation found the answer failed: stop the upstream so no tokens are spent for nobody.
      end(reason === ANSWER_FAILED ? 'upstream_failed' : CLIENT_CLOSED);
      options.upstream.abort(CLIENT_CLOSED);
      reader.cancel(reason).catch(() => {});
    },
  });
}
