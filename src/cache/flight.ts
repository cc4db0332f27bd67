import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GatewayError } from '../errors';
import type { AnswerHead } from './store';

// One upstream call shared by identical requests in flight at once. The call's body is read once,
// as it arrives, and every member gets its own stream of it from the first byte, however late it
// joined. Requests run in separate I/O contexts of one isolate: only the leader's context touches
// the upstream body; a member's stream is created and fed in its own context, and waits on promises
// it creates itself (the runtime runs their continuations in the member's context).

/** How often a waiting member wakes up on its own (see change()). */
const KEEP_ALIVE_MS = 1_000;

/** The reason the upstream is aborted when every member has gone. */
export const MEMBERS_GONE = 'client_closed';

export class Flight {
  head?: AnswerHead;
  /** What the answer's producer threw: every member gets it. */
  private thrown?: { error: unknown };
  private hasBody = false;
  /** Chunks from `base` on (the earlier ones are dropped once no member needs them). */
  private chunks: Uint8Array[] = [];
  private base = 0;
  private size = 0;
  /** Every byte since the first is kept: the flight can still be joined and its answer stored. */
  recording = true;
  ended = false;
  private cut?: { error: unknown };
  private readonly members = new Set<{ at: number }>();
  private wakers = new Set<() => void>();
  private abandon!: () => void;
  /** Settles once the answer has ended, failed or was never given. */
  readonly done: Promise<void>;

  /**
   * Starts the call now, in the caller's context. `maxBytes`: beyond this many bytes the answer is
   * no longer recorded (`onStopRecording` is told): it reaches its members but cannot be stored.
   */
  constructor(
    produce: (signal: AbortSignal) => Promise<Response>,
    private readonly maxBytes: number,
    private readonly onStopRecording: () => void,
  ) {
    const upstream = new AbortController();
    // Resolved from whichever context the last member leaves; runs the abort in this one.
    const abandoned = new Promise<void>((resolve) => (this.abandon = resolve));
    void abandoned.then(() => upstream.abort(MEMBERS_GONE));
    this.done = this.run(produce, upstream.signal);
  }

  private async run(produce: (signal: AbortSignal) => Promise<Response>, signal: AbortSignal) {
    let response: Response;
    try {
      response = await produce(signal);
    } catch (error) {
      this.thrown = { error };
      return this.wake();
    }
    this.head = { status: response.status, statusText: response.statusText, headers: [...response.headers] };
    this.hasBody = response.body !== null;
    this.wake();
    if (!response.body) {
      this.ended = true;
      return;
    }
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.push(value);
      }
      // Every member had gone: the answer was cut short, however its body ended (a relay closes for a client that left).
      if (signal.aborted) this.cut = { error: signal.reason };
      else this.ended = true;
    } catch (error) {
      this.cut = { error };
    }
    this.wake();
  }

  private push(chunk: Uint8Array) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.recording && this.size > this.maxBytes) {
      this.recording = false;
      this.onStopRecording();
    }
    if (!this.recording) this.dropRead();
    this.wake();
  }

  /** Not recording: chunks every member has read are let go. */
  private dropRead() {
    let lowest = this.base + this.chunks.length;
    for (const member of this.members) lowest = Math.min(lowest, member.at);
    this.chunks.splice(0, lowest - this.base);
    this.base = lowest;
  }

  /** All bytes of a whole recorded answer. */
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  private wake() {
    const wakers = this.wakers;
    this.wakers = new Set();
    for (const wake of wakers) wake();
  }

  /**
   * Resolves at the flight's next change, or after KEEP_ALIVE_MS; created in the waiting member's own
   * context. The timer is that context's own pending work: workerd cancels a request that waits only
   * on another request's work as hung. (It is never cleared: a timer belongs to its context.)
   */
  private change(): Promise<void> {
    return new Promise((resolve) => {
      setTimeout(resolve, KEEP_ALIVE_MS);
      this.wakers.add(resolve);
    });
  }

  /**
   * The answer for one more member, with a body of its own from the first byte. `signal` is the
   * member's request: once every member has gone, the upstream call is aborted.
   */
  async join(signal: AbortSignal): Promise<Response> {
    if (!this.recording) throw new Error('a flight that no longer records cannot be joined');
    const member = { at: this.base };
    this.members.add(member);
    let gone = false;
    let cancelled = false;
    const leave = () => {
      if (gone) return;
      gone = true;
      signal.removeEventListener('abort', leave);
      this.members.delete(member);
      if (this.members.size === 0 && !this.ended && !this.cut && !this.thrown) this.abandon();
      this.wake();
    };
    signal.addEventListener('abort', leave);
    while (!this.head && !this.thrown) {
      if (signal.aborted) break;
      await this.change();
    }
    if (!this.head) {
      leave();
      throw this.thrown ? this.thrown.error : new GatewayError(499 as ContentfulStatusCode, 'the client closed the request', 'client_closed_request');
    }
    const body = this.hasBody
      ? new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            for (;;) {
              // A member whose client went away gets an end, not the rest nor an error: nobody reads on, and
              // workerd logs a response body that errors as an uncaught exception. (A cancelled body is closed already.)
              if (gone) {
                if (!cancelled) controller.close();
                return;
              }
              if (member.at < this.base + this.chunks.length) return controller.enqueue(this.chunks[member.at++ - this.base]!);
              if (this.ended || this.cut) {
                leave();
                return this.cut ? controller.error(this.cut.error) : controller.close();
              }
              await this.change();
            }
          },
          cancel: () => {
            cancelled = true;
            leave();
          },
        })
      : null;
    if (!body) leave();
    return new Response(body, { status: this.head.status, statusText: this.head.statusText, headers: this.head.headers });
  }
}
