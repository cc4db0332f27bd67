import type { Model } from '../vault/schema';
import { type StreamCounter, type StreamEnding } from './extract';
import { costUsd, type TokenCounts } from './price';
import type { CacheOutcome, UsageRecord, UsageRoute, UsageSource } from './record';

// What one request did upstream, gathered while it runs: send() reports each attempt, the answer's
// counts or the stream it relays; the route's middleware reports what the client was told. Once both
// the handler and any relayed stream have ended, the record is built and handed to `deliver`.

export interface TapOrigin {
  id: string;
  clientRequestId?: string;
  userId: string;
  user: string;
  route: UsageRoute;
  /** When the request arrived (ms since the epoch). */
  startedAt: number;
}

export interface AttemptInfo {
  provider: string;
  /** The model id as sent upstream, if the request names one. */
  model?: string;
  /** The vault's entry for the model: its prices. */
  entry?: Model;
  operation: string;
  stream: boolean;
}

/** One upstream attempt as the request's trace shows it (src/traces/): kept only while traces are exported. */
export interface AttemptTrace {
  provider: string;
  /** When it was sent (ms since the epoch). */
  startedAt: number;
  /** The key's place in the provider's vault entry: never the key. */
  keyIndex?: number;
  /** The upstream's HTTP status; none for a timeout or a network error. */
  status?: number;
  /** Why it failed (`http_429`, `timeout`…), when it did. */
  errorType?: string;
  /** Until its answer began or it failed. */
  durationMs?: number;
}

const STREAM_CUT_CODES: Record<Exclude<StreamEnding, 'done'>, string> = {
  client_closed: 'client_closed_request',
  upstream_failed: 'upstream_stream_failed',
  idle_timeout: 'upstream_timeout',
  event_too_large: 'upstream_too_large',
};

export class UsageTap {
  /** Size of the request body, for estimates when a provider gives no count. */
  requestBytes = 0;
  private attempts = 0;
  private last?: AttemptInfo;
  private firstByteAt?: number;
  private counts?: TokenCounts;
  private source: UsageSource = 'none';
  private status = 0;
  private errorCode: string | null = null;
  private upstreamError?: string;
  private openStreams = 0;
  private handled = false;
  private delivered = false;
  private cache: CacheOutcome = 'none';

  /** Each upstream attempt, when traces are exported (`traceAttempts`); otherwise nothing is kept. */
  readonly attemptLog?: AttemptTrace[];

  constructor(
    readonly origin: TapOrigin,
    private readonly deliver: (record: UsageRecord | undefined) => void,
    traceAttempts = false,
  ) {
    if (traceAttempts) this.attemptLog = [];
  }

  /** An upstream attempt is about to be sent. */
  attempt(info: AttemptInfo): void {
    this.attempts++;
    this.last = info;
    this.attemptLog?.push({ provider: info.provider, startedAt: Date.now() });
    this.counts = undefined;
    this.source = 'none';
    this.upstreamError = undefined;
  }

  /** The attempt sent last has its answer (`status`) or failed (`errorType`): for its trace only. */
  attemptEnded(keyIndex: number, status: number | undefined, errorType: string | undefined): void {
    const entry = this.attemptLog?.at(-1);
    if (!entry) return;
    entry.keyIndex = keyIndex;
    entry.status = status;
    entry.errorType = errorType ?? (status !== undefined && status >= 400 ? `http_${status}` : undefined);
    entry.durationMs = Date.now() - entry.startedAt;
  }

  /** The upstream's status line arrived. */
  firstByte(): void {
    this.firstByteAt ??= Date.now();
  }

  /** A whole answer: the provider's counts when it gave any; an error answer's code. */
  answered(counts: TokenCounts | undefined, errorCode?: string): void {
    this.counts = counts;
    this.source = counts ? 'provider' : 'none';
    this.upstreamError = errorCode;
  }

  /** An answer relayed as it comes: `end` is called once when the relay ends, however it ends. */
  streaming(counter: StreamCounter): (ending: StreamEnding) => void {
    this.openStreams++;
    let ended = false;
    return (ending) => {
      if (ended) return;
      ended = true;
      this.openStreams--;
      const { counts, source } = counter.result(ending, this.requestBytes);
      this.counts = counts;
      this.source = source;
      if (ending !== 'done') this.errorCode ??= STREAM_CUT_CODES[ending];
      this.maybeDeliver();
    };
  }

  /** The answer went upstream and may be stored for later identical requests. */
  cacheMiss(): void {
    this.cache = 'miss';
  }

  /**
   * The answer came from the cache (stored, or shared with an identical call in flight): a record at no
   * cost, with the counts of the answer once known (`settle`), so the money saved can be shown.
   */
  servedFromCache(info: AttemptInfo): (counts: TokenCounts | undefined) => void {
    this.cache = 'hit';
    this.last = info;
    this.openStreams++;
    let settled = false;
    return (counts) => {
      if (settled) return;
      settled = true;
      this.openStreams--;
      this.counts = counts;
      this.source = counts ? 'provider' : 'none';
      this.maybeDeliver();
    };
  }

  /** The route answered (or failed): the status the client got, and the error code if it failed. */
  done(status: number, errorCode: string | null): void {
    if (this.handled) return;
    this.handled = true;
    this.status = status;
    if (status >= 400) this.errorCode = errorCode ?? this.upstreamError ?? this.errorCode ?? `http_${status}`;
    this.maybeDeliver();
  }

  /** Whether a request went to a provider. */
  get reached(): boolean {
    return this.attempts > 0 || this.cache === 'hit';
  }

  private maybeDeliver() {
    if (this.delivered || !this.handled || this.openStreams > 0) return;
    this.delivered = true;
    this.deliver(this.reached ? this.record() : undefined);
  }

  private record(): UsageRecord {
    const attempt = this.last!;
    const counts = this.counts ?? { input: 0, output: 0, cached: 0 };
    const hit = this.cache === 'hit';
    return {
      id: this.origin.id,
      client_request_id: this.origin.clientRequestId ?? null,
      time: new Date(this.origin.startedAt).toISOString(),
      user_id: this.origin.userId,
      user: this.origin.user,
      route: this.origin.route,
      operation: attempt.operation,
      provider: attempt.provider,
      model: attempt.model ?? null,
      status: this.status,
      stream: attempt.stream,
      attempts: this.attempts,
      input_tokens: counts.input,
      output_tokens: counts.output,
      cached_input_tokens: counts.cached,
      usage_source: this.source,
      cost_usd: hit ? 0 : costUsd(attempt.entry, counts),
      latency_ms: Date.now() - this.origin.startedAt,
      first_byte_ms: this.firstByteAt === undefined ? null : this.firstByteAt - this.origin.startedAt,
      cache: this.cache,
      error_code: this.status >= 400 || this.errorCode ? this.errorCode : null,
      saved_usd: hit && this.counts ? costUsd(attempt.entry, counts) : null,
    };
  }
}
