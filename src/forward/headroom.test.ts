import { describe, expect, it } from 'vitest';
import { adoptHeadroom, expectedTokens, headroomOf, noteHeadroom, reserveHeadroom, roomFor } from './headroom';

// The providers' rate-limit headers read into a key's headroom, and what a key has room for.

const NOW = Date.parse('2026-06-01T12:00:00Z');
let serial = 0;
const freshKey = () => `hr-key-${serial++}`;

describe('headroomOf', () => {
  it('reads OpenAI and Groq headers with their duration resets: 6m0s, 1.5s, 120ms', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': '14400',
      'x-ratelimit-remaining-requests': '14370',
      'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-remaining-tokens': '5000',
      'x-ratelimit-reset-tokens': '1.5s',
    });
    expect(headroomOf(headers, NOW)).toEqual({ at: NOW, requests: 14370, requestsResetAt: NOW + 360_000, tokens: 5000, tokensResetAt: NOW + 1_500 });
    expect(headroomOf(new Headers({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '120ms' }), NOW)).toEqual({
      at: NOW,
      tokens: 0,
      tokensResetAt: NOW + 120,
    });
  });

  it("reads Anthropic's RFC 3339 resets, the tightest token limit deciding", () => {
    const headers = new Headers({
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2026-06-01T12:00:30Z',
      'anthropic-ratelimit-tokens-remaining': '90000',
      'anthropic-ratelimit-tokens-reset': '2026-06-01T12:01:00Z',
      'anthropic-ratelimit-input-tokens-remaining': '1200',
      'anthropic-ratelimit-input-tokens-reset': '2026-06-01T12:00:10Z',
      'anthropic-ratelimit-output-tokens-remaining': '8000',
      'anthropic-ratelimit-output-tokens-reset': '2026-06-01T12:00:05Z',
    });
    expect(headroomOf(headers, NOW)).toEqual({ at: NOW, requests: 49, requestsResetAt: NOW + 30_000, tokens: 1200, tokensResetAt: NOW + 10_000 });
  });

  it('reports nothing without rate-limit headers, and ignores values that are not counts', () => {
    expect(headroomOf(new Headers({ 'content-type': 'application/json' }), NOW)).toBeUndefined();
    expect(headroomOf(new Headers({ 'x-ratelimit-remaining-tokens': 'lots' }), NOW)).toBeUndefined();
  });

  it('uses no reading without a reset time: nothing says until when it holds', () => {
    expect(headroomOf(new Headers({ 'x-ratelimit-remaining-requests': '0' }), NOW)).toBeUndefined();
    expect(headroomOf(new Headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': 'soon' }), NOW)).toBeUndefined();
  });
});

describe('roomFor', () => {
  it('knows nothing of a key it has no reading of: open', () => {
    expect(roomFor('p', freshKey(), 10_000, NOW)).toEqual({ until: 0, short: false });
  });

  it('a key out of requests, or of tokens, rests until its reset; after the reset it is open again', () => {
    const key = freshKey();
    noteHeadroom('p', key, { at: NOW, requests: 0, requestsResetAt: NOW + 5_000, tokens: 9_000, tokensResetAt: NOW + 1_000 });
    expect(roomFor('p', key, 100, NOW)).toEqual({ until: NOW + 5_000, short: false });
    expect(roomFor('p', key, 100, NOW + 5_000)).toEqual({ until: 0, short: false });
    const other = freshKey();
    noteHeadroom('p', other, { at: NOW, tokens: 0, tokensResetAt: NOW + 2_000 });
    expect(roomFor('p', other, 1, NOW)).toEqual({ until: NOW + 2_000, short: false });
  });

  it('a key with fewer tokens left than the request may count is short, not resting', () => {
    const key = freshKey();
    noteHeadroom('p', key, { at: NOW, tokens: 500, tokensResetAt: NOW + 60_000 });
    expect(roomFor('p', key, 400, NOW)).toEqual({ until: 0, short: false });
    expect(roomFor('p', key, 600, NOW)).toEqual({ until: 0, short: true });
  });

  it('what a request on its way may count comes off the reading until the next one', () => {
    const key = freshKey();
    noteHeadroom('p', key, { at: NOW, requests: 2, requestsResetAt: NOW + 60_000, tokens: 1_000, tokensResetAt: NOW + 60_000 });
    reserveHeadroom('p', key, 600, NOW);
    expect(roomFor('p', key, 600, NOW)).toEqual({ until: 0, short: true });
    reserveHeadroom('p', key, 500, NOW);
    // Out of requests (an exact count); out of tokens only by this isolate's estimate: short, not exhausted.
    expect(roomFor('p', key, 1, NOW)).toEqual({ until: NOW + 60_000, short: false });
    const other = freshKey();
    noteHeadroom('p', other, { at: NOW, tokens: 1_000, tokensResetAt: NOW + 60_000 });
    reserveHeadroom('p', other, 5_000, NOW);
    expect(roomFor('p', other, 2, NOW)).toEqual({ until: 0, short: true });
  });

  it("another isolate's reading is taken only when it is newer", () => {
    const key = freshKey();
    noteHeadroom('p', key, { at: NOW, tokens: 5, tokensResetAt: NOW + 60_000 });
    adoptHeadroom('p', key, { at: NOW - 1, tokens: 50_000, tokensResetAt: NOW + 60_000 });
    expect(roomFor('p', key, 100, NOW).short).toBe(true);
    adoptHeadroom('p', key, { at: NOW + 1, tokens: 50_000, tokensResetAt: NOW + 60_000 });
    expect(roomFor('p', key, 100, NOW).short).toBe(false);
  });
});

describe('expectedTokens', () => {
  it('counts the body at 4 bytes a token plus the output limit the request names', () => {
    expect(expectedTokens(400, { max_tokens: 256 })).toBe(356);
    expect(expectedTokens(401, { generationConfig: { maxOutputTokens: 10 } })).toBe(111);
    expect(expectedTokens(8, undefined)).toBe(2);
  });
});
