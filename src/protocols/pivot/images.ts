import { GatewayError } from '../../errors';
import { bytesToBase64 } from '../../base64';

/** An image carried inside the request: its media type and base64 bytes. */
export interface InlineImage {
  mediaType: string;
  data: string;
}

/** Gemini's limit for a whole inline request; an image fetched for it may not be larger. */
export const MAX_FETCHED_IMAGE_BYTES = 20 * 1024 * 1024;

const DATA_URL = /^data:([^;,]+)((?:;[^;,]+)*);base64,(.*)$/s;

/** The image in a `data:<type>;base64,<data>` URL, or undefined for any other URL. */
export function parseDataUrl(url: string): InlineImage | undefined {
  const match = DATA_URL.exec(url);
  return match ? { mediaType: match[1]!.toLowerCase(), data: match[3]!.replace(/\s+/g, '') } : undefined;
}

export const toDataUrl = (image: InlineImage) => `data:${image.mediaType};base64,${image.data}`;

/**
 * Fetch an http(s) image and inline it, for targets that only take image bytes (Gemini).
 * Refuses what is not an image or is larger than MAX_FETCHED_IMAGE_BYTES.
 */
export async function fetchImage(url: string, signal?: AbortSignal): Promise<InlineImage> {
  if (!/^https?:\/\//i.test(url)) {
    throw new GatewayError(400, 'an image URL must be a data: URL or an http(s) URL', 'invalid_image_url');
  }
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'image/*' } });
  } catch {
    throw new GatewayError(400, `the image at ${url} could not be fetched`, 'image_unreachable');
  }
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (!res.ok || !mediaType.startsWith('image/') || declared > MAX_FETCHED_IMAGE_BYTES) {
    await res.body?.cancel();
    const why = !res.ok ? `answered HTTP ${res.status}` : declared > MAX_FETCHED_IMAGE_BYTES ? 'is too large' : `is not an image (${mediaType || 'no type'})`;
    throw new GatewayError(400, `the image at ${url} ${why}`, 'invalid_image');
  }
  return { mediaType, data: bytesToBase64(await readCapped(res.body, url)) };
}

/** The whole body, refusing it as soon as it passes MAX_FETCHED_IMAGE_BYTES (a length header can lie). */
async function readCapped(body: ReadableStream<Uint8Array> | null, url: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body?.getReader();
  for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
    size += read.value.byteLength;
    if (size > MAX_FETCHED_IMAGE_BYTES) {
      await reader!.cancel();
      throw new GatewayError(400, `the image at ${url} is too large`, 'invalid_image');
    }
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
