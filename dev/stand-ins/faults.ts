// Faults a test queues on the stand-in: which requests they hit (matchers) and what goes wrong (effects).

export interface Fault {
  /** Only requests authenticated with this provider key. */
  key?: string;
  /** Only requests for this model (the bare id; `provider/model` forms match their bare id too). */
  model?: string;
  /** Only requests whose path contains this text, e.g. `embeddings` or `/anthropic/`. */
  path?: string;
  /** How many matching requests this fault hits (default 1; `Infinity`, or "Infinity" over HTTP). */
  times?: number;
  /** Answer with this status and the provider's real error body for it. */
  status?: number;
  /** Seconds, sent as `Retry-After` with an error status. */
  retryAfter?: number;
  /** Overrides the error message of a `status` fault. */
  message?: string;
  /** Wait this long before sending anything (status line included). */
  delayFirstByteMs?: number;
  /** Send this many stream events (or half of a JSON body), then destroy the socket. */
  resetAfterChunks?: number;
  /** Answer 200 with the success body cut in half (streams: the first event's JSON cut in half). */
  invalidJson?: boolean;
  /** Never answer; the socket stays open until the client gives up or the stand-in closes. */
  hang?: boolean;
}

export interface FaultTarget {
  key?: string;
  model?: string;
  path: string;
}

const bareModel = (model: string) => model.slice(model.indexOf('/') + 1);

function matches(fault: Fault, target: FaultTarget): boolean {
  if (fault.key !== undefined && fault.key !== target.key) return false;
  if (fault.path !== undefined && !target.path.includes(fault.path)) return false;
  if (fault.model !== undefined) {
    if (target.model === undefined) return false;
    if (fault.model !== target.model && fault.model !== bareModel(target.model)) return false;
  }
  return true;
}

/** The first queued fault that matches, consumed once (removed when its `times` run out). */
export function takeFault(queue: Fault[], target: FaultTarget): Fault | undefined {
  const index = queue.findIndex((fault) => matches(fault, target));
  if (index < 0) return undefined;
  const fault = queue[index]!;
  const left = (fault.times ?? 1) - 1;
  if (left <= 0) queue.splice(index, 1);
  else fault.times = left;
  return fault;
}

/** A fault from JSON (control API or `x-stand-in-fault`): `times: "Infinity"` or `null` means forever. */
export function parseFault(value: unknown): Fault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('a fault is a JSON object');
  }
  const fault: Record<string, unknown> = { ...value };
  if (fault.times === null || fault.times === 'Infinity') fault.times = Infinity;
  if (fault.times !== undefined && (typeof fault.times !== 'number' || !(fault.times >= 1))) {
    throw new Error('fault.times must be a number >= 1 or "Infinity"');
  }
  return fault as Fault;
}
