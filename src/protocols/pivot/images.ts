import { GatewayError } from '../../errors';
import { bytesToBase64 } from '../../base64';
import { isPublicUrl } from './public-address';

/** An image carried inside the request: its media type and base64 bytes. */
export interface InlineImage {
  mediaType: string;
  data: string;
}

/** Images fetched by URL for one request, at most. */
export const MAX_FETCHED_IMAGES = 8;
/** Bytes of images fetched by URL for one request, at most: Gemini's limit for a whole inline request. */
export const MAX_FETCHED_IMAGE_BYTES = 20 * 1024 * 1024;
/** Time for all the image fetches of one request. */
export const IMAGE_FETCH_TIMEOUT_MS = 10_000;
/** Redirects followed per image, each to a public address again. */
const MAX_REDIRECTS = 3;

const DATA_URL = /^data:([^;,]+)((?:;[^;,]+)*);base64,(.*)$/s;

/** The image in a `data:<type>;base64,<data>` URL, or undefined for any other URL. */
export function parseDataUrl(url: string): InlineImage | undefined {
  const match = DATA_URL.exec(url);
  return match ? { mediaType: match[1]!.toLowerCase(), data: match[3]!.replace(/\s+/g, '') } : undefined;
}

export const toDataUrl = (image: InlineImage) => `data:${image.mediaType};base64,${image.data}`;

/**
 * One wording whatever went wrong (a private address, a refused redirect, a timeout, a status, a type,
 * a size): the gateway must not tell a client what answers where (no port scanner, no status oracle).
 */
const unusable = () =>
  new GatewayError(
    400,
    'an image URL could not be used: it must be a public http(s) address that serves an image (at most 20 MiB in all per request, 10 s)',
    'image_unavailable',
  );

/** IMAGE_FETCH_ALLOW_HOSTS as a set of `host:port`. */
export const allowedImageHosts = (setting: string | undefined): ReadonlySet<string> =>
  new Set(
    (setting ?? '')
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter(Boolean),
  );

const tooMany = () =>
  new GatewayError(400, `at most ${MAX_FETCHED_IMAGES} images are fetched by URL per request; send the others as data: URLs`, 'too_many_images');

/** One image per address however it is spelled: `http://host:80/a.png` and `http://HOST/a.png` are fetched once. */
const imageKey = (url: string) => (/^https?:\/\//i.test(url) && URL.canParse(url) ? new URL(url).href : url);

/**
 * The images one request fetches by URL, for targets that only take image bytes (Gemini): each URL is
 * fetched once however often the request is translated (a fallback chain, a token count), only from
 * public addresses (checked again at every redirect), at most MAX_FETCHED_IMAGES images and
 * MAX_FETCHED_IMAGE_BYTES in all, within IMAGE_FETCH_TIMEOUT_MS.
 */
export class ImageFetcher {
  private readonly images = new Map<string, Promise<InlineImage>>();
  private bytes = 0;
  private signal?: AbortSignal;

  /**
   * @param allowHosts `host:port`s that may be fetched although they are not public
   *   (IMAGE_FETCH_ALLOW_HOSTS: local development and tests only).
   */
  constructor(
    private readonly clientSignal?: AbortSignal,
    private readonly allowHosts: ReadonlySet<string> = new Set(),
  ) {}

  /** Refuse, before anything is fetched, a request that names more images by URL than it may fetch. */
  admit(urls: string[]): void {
    const all = new Set([...this.images.keys(), ...urls.filter((url) => parseDataUrl(url) === undefined).map(imageKey)]);
    if (all.size > MAX_FETCHED_IMAGES) throw tooMany();
  }

  fetch(url: string): Promise<InlineImage> {
    const key = imageKey(url);
    let image = this.images.get(key);
    if (!image) {
      if (!/^https?:\/\//i.test(url)) {
        return Promise.reject(new GatewayError(400, 'an image URL must be a data: URL or an http(s) URL', 'invalid_image_url'));
      }
      if (this.images.size >= MAX_FETCHED_IMAGES) return Promise.reject(tooMany());
      // The clock starts with the first fetch and covers them all.
      this.signal ??= AbortSignal.any([AbortSignal.timeout(IMAGE_FETCH_TIMEOUT_MS), ...(this.clientSignal ? [this.clientSignal] : [])]);
      image = this.load(url).catch((err: unknown) => {
        throw err instanceof GatewayError && err.code === 'image_unavailable' ? err : unusable();
      });
      this.images.set(key, image);
    }
    return image;
  }

  private async load(url: string): Promise<InlineImage> {
    const res = await this.follow(url);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!res.ok || !mediaType.startsWith('image/') || Number(res.headers.get('content-length') ?? 0) > MAX_FETCHED_IMAGE_BYTES - this.bytes) {
      await res.body?.cancel();
      throw unusable();
    }
    return { mediaType, data: bytesToBase64(await this.read(res.body)) };
  }

  /** The answer at `url` after at most MAX_REDIRECTS redirects, every hop to a public address. */
  private async follow(url: string): Promise<Response> {
    let next = new URL(url);
    for (let hop = 0; ; hop++) {
      if (!isPublicUrl(next) && !this.allowHosts.has(next.host)) throw unusable();
      const res = await fetch(next.href, { redirect: 'manual', signal: this.signal, headers: { accept: 'image/*' } });
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || location === null) return res;
      await res.body?.cancel();
      if (hop === MAX_REDIRECTS) throw unusable();
      next = new URL(location, next);
    }
  }

  /** The whole body, refused as soon as the request's images pass MAX_FETCHED_IMAGE_BYTES (a length header can lie). */
  private async read(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = body?.getReader();
    for (let read = await reader?.read(); read && !read.done; read = await reader!.read()) {
      size += read.value.byteLength;
      this.bytes += read.value.byteLength;
      if (this.bytes > MAX_FETCHED_IMAGE_BYTES) {
        await reader!.cancel();
        throw unusable();
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
}
