import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { timeOrderedId } from './request-ids';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a UUIDv7 whose first 48 bits are the millisecond given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (now) => {
        const id = timeOrderedId(now);
        expect(id).toMatch(UUID_V7);
        expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
      }),
    );
  });

  it('sorts as text in the order of its times, and never repeats', () => {
    const times = [Date.UTC(2026, 0, 1), Date.UTC(2026, 11, 7, 6), Date.UTC(2026, 11, 7, 6) + 1, 2 ** 47];
    const ids = times.map((time) => timeOrderedId(time));
    expect([...ids].sort()).toEqual(ids);
    const many = new Set(Array.from({ length: 10_000 }, () => timeOrderedId(0)));
    expect(many.size).toBe(10_000);
  });
});
