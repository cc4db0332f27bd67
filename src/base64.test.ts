import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64FromUrl, bytesToBase64, bytesToBase64Url } from './base64';

describe('base64url', () => {
  it('is base64 with - and _ and no padding, and goes back to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        const url = bytesToBase64Url(bytes);
        expect(url).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(base64FromUrl(url)).toBe(bytesToBase64(bytes));
        expect(Uint8Array.from(atob(base64FromUrl(url)), (ch) => ch.charCodeAt(0))).toEqual(bytes);
      }),
    );
  });
});
