// The gateway's request ids are UUIDv7 (RFC 9562 §5.7): the arrival millisecond, then 74 random bits.
// Usage records are keyed by them in D1, and ids that grow with time are written at the end of the
// primary key's index instead of on a random page of it (bench/hot-path.ts, the D1 stage: a third
// less work per record than random UUIDs). 74 random bits keep an id unguessable.

/** A UUIDv7 for `now` (ms since the epoch): a random UUID's random bits under the time and version 7. */
export function timeOrderedId(now = Date.now()): string {
  // randomUUID is native (one call, no hex formatting in JavaScript); its characters from index 15 on
  // are 12 random bits, the RFC variant and 62 random bits, exactly what follows the version in v7.
  const random = crypto.randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
