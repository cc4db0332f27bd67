export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Little-endian float32 values as base64: OpenAI's `encoding_format: "base64"` embeddings. */
export function float32ToBase64(values: number[]): string {
  return bytesToBase64(new Uint8Array(new Float32Array(values).buffer));
}

/** base64 as base64url (RFC 4648 §5, unpadded): for ids, keys and cursors that travel in URLs and headers. */
export const base64ToUrl = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** base64url (padded or not) back to padded base64, for `atob`. */
export const base64FromUrl = (text: string) => text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);

export const bytesToBase64Url = (bytes: Uint8Array) => base64ToUrl(bytesToBase64(bytes));
