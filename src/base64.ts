export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Little-endian float32 values as base64: OpenAI's `encoding_format: "base64"` embeddings. */
export function float32ToBase64(values: number[]): string {
  return bytesToBase64(new Uint8Array(new Float32Array(values).buffer));
}
