import { describe, expect, it } from 'vitest';
import { keyRotation, keySucceeded, restKey } from './keys';
import { backoffMs, isRetryableStatus, MAX_COOLDOWN_MS, providerWaitMs } from './retry';
import { freshKeys } from '../../test/worker/helpers/upstreams';

// How long a key rests: the provider's own hints first, else a jittered exponential backoff.

const NOW = Date.parse('2026-05-01T12:00:00Z');
const wait = (headers: Record<string, string>) => providerWaitMs(new Headers(headers), NOW);

describe('provider wait hints', () => {
  it('reads Retry-After as seconds or as an HTTP date, and retry-after-ms first', () => {
    expect(wait({ 'retry-after': '7' })).toBe(7000);
    expect(wait({ 'retry-after': '1.5' })).toBe(1500);
    expect(wait({ 'retry-after': 'Fri, 01 May 2026 12:00:30 GMT' })).toBe(30_000);
    expect(wait({ 'retry-after-ms': '250', 'retry-after': '7' })).toBe(250);
  });

  it('reads OpenAI/Groq reset durations, preferring the limit that is exhausted', () => {
    expect(wait({ 'x-ratelimit-reset-requests': '6m0s' })).toBe(360_000);
    expect(wait({ 'x-ratelimit-reset-requests': '2m59.56s' })).toBe(179_560);
    expect(wait({ 'x-ratelimit-reset-tokens': '20ms' })).toBe(20);
    expect(wait({ 'x-ratelimit-reset-requests': '1m2.5s' })).toBe(62_500);
    expect(wait({ 'x-ratelimit-reset-requests': '1h2m3.5s' })).toBe(MAX_COOLDOWN_MS);
    // No remaining headers: the soonest reset.
    expect(wait({ 'x-ratelimit-reset-requests': '30s', 'x-ratelimit-reset-tokens': '2s' })).toBe(2000);
    // Requests exhausted: their reset decides even though tokens reset sooner.
    expect(
      wait({
        'x-ratelimit-reset-requests': '30s',
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-tokens': '2s',
        'x-ratelimit-remaining-tokens': '900',
      }),
    ).toBe(30_000);
  });

  it('reads Anthropic RFC 3339 reset instants', () => {
    expect(wait({ 'anthropic-ratelimit-requests-reset': '2026-05-01T12:00:12Z', 'anthropic-ratelimit-requests-remaining': '0' })).toBe(12_000);
    expect(wait({ 'anthropic-ratelimit-tokens-reset': '2026-05-01T12:01:00Z', 'anthropic-ratelimit-input-tokens-reset': '2026-05-01T12:00:05Z' })).toBe(5_000);
  });

  it('ignores unreadable values and caps absurd ones', () => {
    expect(wait({})).toBeUndefined();
    expect(wait({ 'retry-after': 'soon' })).toBeUndefined();
    expect(wait({ 'x-ratelimit-reset-requests': '5 minutes' })).toBeUndefined();
    expect(wait({ 'retry-after': '999999' })).toBe(MAX_COOLDOWN_MS);
    expect(wait({ 'retry-after': 'Thu, 01 Jan 2026 00:00:00 GMT' })).toBe(0);
  });

  it('classifies the statuses worth another key', () => {
    expect([401, 402, 403, 408, 429, 500, 502, 503, 504, 529].every(isRetryableStatus)).toBe(true);
    expect([400, 404, 409, 413, 415, 422].some(isRetryableStatus)).toBe(false);
  });
});

describe('backoff', () => {
  it('doubles per consecutive failure up to the cap, scaled by a jitter in [0.5, 1)', () => {
    expect(backoffMs(1, 250, 8000, () => 0)).toBe(125);
    expect(backoffMs(1, 250, 8000, () => 0.999999)).toBeCloseTo(250, 0);
    expect(backoffMs(3, 250, 8000, () => 0.5)).toBe(750);
    expect(backoffMs(10, 250, 8000, () => 0)).toBe(4000);
    const samples = Array.from({ length: 200 }, () => backoffMs(2, 1000, 60_000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...samples)).toBeLessThan(2000);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });

  it('rests a failing key longer each time, and a success resets it', () => {
    const [a, b] = freshKeys('k', 2).map((key) => ({ key }));
    const provider = `p-${a!.key}`;
    const readyIn = () => (keyRotation(provider, [a!, b!], NOW).find((t) => t.key === a)?.readyAt ?? 0) - NOW;
    restKey(provider, a!.key, 'server', undefined, NOW);
    const first = readyIn();
    restKey(provider, a!.key, 'server', undefined, NOW);
    restKey(provider, a!.key, 'server', undefined, NOW);
    const third = readyIn();
    expect(first).toBeGreaterThanOrEqual(125);
    expect(first).toBeLessThanOrEqual(250);
    expect(third).toBeGreaterThanOrEqual(500);
    expect(third).toBeLessThanOrEqual(1000);
    restKey(provider, a!.key, 'auth', undefined, NOW);
    expect(readyIn()).toBeGreaterThanOrEqual(60_000 * 4);
    keySucceeded(provider, a!.key);
    expect(keyRotation(provider, [a!, b!], NOW).find((t) => t.key === a)!.readyAt).toBe(0);
  });

  it('orders rotation: ready keys round-robin first, resting keys last, soonest ready first', () => {
    const keys = freshKeys('r', 4).map((key) => ({ key }));
    const provider = `p-${keys[0]!.key}`;
    restKey(provider, keys[0]!.key, 'rate', 5_000, NOW);
    restKey(provider, keys[1]!.key, 'rate', 2_000, NOW);
    const firstCall = keyRotation(provider, keys, NOW).map((t) => t.key.key);
    expect(firstCall).toEqual([keys[2]!.key, keys[3]!.key, keys[1]!.key, keys[0]!.key]);
    const ready = [keyRotation(provider, keys, NOW)[0]!.key.key, keyRotation(provider, keys, NOW)[0]!.key.key, keyRotation(provider, keys, NOW)[0]!.key.key];
    expect(new Set(ready)).toEqual(new Set([keys[2]!.key, keys[3]!.key]));
  });
});
