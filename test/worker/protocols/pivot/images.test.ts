import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../../src/app';
import { gemini } from '../../../../src/protocols/gemini/adapter';
import { ChatRequest } from '../../../../src/protocols/pivot/chat';
import { makeEnv, postJson, userHeaders } from '../../helpers/env';
import { mockUpstream } from '../../helpers/fetch';
import { testConfig } from '../../helpers/vault';

// Issue 9, finding "SSRF through the Gemini image fetch": public addresses only (at every redirect),
// at most 8 images and 20 MiB per request, a time limit, fetched once per request, one wording.

afterEach(() => vi.restoreAllMocks());

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const ctx = { model: 'gemini-2.0-flash' };
const withImages = (...urls: string[]) =>
  ChatRequest.parse({
    model: 'x',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))] }],
  });
const image = () => new Response(JPEG, { headers: { 'content-type': 'image/jpeg' } });
const GENERIC = 'an image URL could not be used: it must be a public http(s) address that serves an image (at most 20 MiB in all per request, 10 s)';

describe('finding: SSRF through the Gemini image fetch', () => {
  it.each([
    'http://127.0.0.1/a.png',
    'http://127.1.2.3/a.png',
    'http://2130706433/a.png',
    'http://0x7f.1/a.png',
    'http://0177.0.0.1/a.png',
    'http://localhost/a.png',
    'http://LOCALHOST./a.png',
    'http://api.localhost/a.png',
    'http://10.0.0.5/a.png',
    'http://172.16.3.4/a.png',
    'http://192.168.1.1/a.png',
    'http://100.64.0.1/a.png',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://metadata/computeMetadata/v1/',
    'http://printer.local/a.png',
    'http://0.0.0.0/a.png',
    'http://[::1]/a.png',
    'http://[::]/a.png',
    'http://[::ffff:127.0.0.1]/a.png',
    'http://[::ffff:169.254.169.254]/a.png',
    'http://[64:ff9b::a9fe:a9fe]/a.png',
    'http://[2002:7f00:1::]/a.png',
    'http://[fd00:ec2::254]/a.png',
    'http://[fe80::1]/a.png',
    'http://[ff02::1]/a.png',
    'http://224.0.0.1/a.png',
    'http://255.255.255.255/a.png',
    'https://images.example.com:8443/a.png',
    'https://user:secret@images.example.com/a.png',
  ])('%s is refused without a fetch, in the one generic wording', async (url) => {
    const { calls } = mockUpstream(image);
    await expect(gemini.chat.request(withImages(url), ctx)).rejects.toMatchObject({ status: 400, code: 'image_unavailable', message: GENERIC });
    expect(calls).toHaveLength(0);
  });

  it('fetches a public image with redirect: manual, and follows a redirect to another public address', async () => {
    const seen: RequestInit[] = [];
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      seen.push(init ?? {});
      const url = String(input);
      return url.includes('old') ? new Response(null, { status: 302, headers: { location: 'https://cdn.example.org/new.jpg' } }) : image();
    });
    const call = await gemini.chat.request(withImages('https://images.example.com/old.jpg'), ctx);
    expect(spy.mock.calls.map(([input]) => String(input))).toEqual(['https://images.example.com/old.jpg', 'https://cdn.example.org/new.jpg']);
    expect(seen.every((init) => init.redirect === 'manual')).toBe(true);
    expect(JSON.stringify(call.body)).toContain(btoa(String.fromCharCode(...JPEG)));
  });

  it('checks every redirect: a public URL that redirects to a private address is refused, the private one never fetched', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://[::1]:8787/ai.json', '/../admin', 'http://localhost/x']) {
      const { calls } = mockUpstream((call) =>
        call.url.startsWith('https://images.example.com')
          ? new Response(null, { status: 301, headers: { location: target.startsWith('/') ? `http://127.0.0.1${target}` : target } })
          : image(),
      );
      await expect(gemini.chat.request(withImages('https://images.example.com/a.jpg'), ctx)).rejects.toMatchObject({
        code: 'image_unavailable',
        message: GENERIC,
      });
      expect(calls.map((c) => c.url)).toEqual(['https://images.example.com/a.jpg']);
      vi.restoreAllMocks();
    }
  });

  it('follows a few redirects at most', async () => {
    const { calls } = mockUpstream((call) => new Response(null, { status: 302, headers: { location: `${call.url}x` } }));
    await expect(gemini.chat.request(withImages('https://images.example.com/a'), ctx)).rejects.toMatchObject({ code: 'image_unavailable' });
    expect(calls.length).toBeLessThanOrEqual(4);
  });

  it('one wording whatever went wrong: a status, a type, a network error (no status or port oracle)', async () => {
    const answers = [
      () => new Response('nope', { status: 404, headers: { 'content-type': 'text/plain' } }),
      () => new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }),
      () => new Response('', { status: 500 }),
      () => Promise.reject(new TypeError('connection refused')),
    ];
    for (const answer of answers) {
      mockUpstream(answer);
      await expect(gemini.chat.request(withImages('https://images.example.com/a.jpg'), ctx)).rejects.toMatchObject({
        status: 400,
        code: 'image_unavailable',
        message: GENERIC,
      });
      vi.restoreAllMocks();
    }
  });

  it('at most 8 images by URL per request: a ninth is refused before anything is fetched', async () => {
    const { calls } = mockUpstream(image);
    const urls = Array.from({ length: 9 }, (_, i) => `https://images.example.com/${i}.jpg`);
    await expect(gemini.chat.request(withImages(...urls), ctx)).rejects.toMatchObject({ status: 400, code: 'too_many_images' });
    expect(calls).toHaveLength(0);
    await gemini.chat.request(withImages(...urls.slice(0, 8)), ctx);
    expect(calls).toHaveLength(8);
  });

  it('one address however it is spelled is one image: fetched once, counted once (found by npm run fuzz)', async () => {
    const { calls } = mockUpstream(image);
    const spellings = ['http://[2002:5db8:d822::1]:80/a.png', 'http://[2002:5db8:d822::1]/a.png', 'HTTP://[2002:5DB8:D822::1]/a.png'];
    const others = Array.from({ length: 7 }, (_, i) => `https://images.example.com/${i}.jpg`);
    await gemini.chat.request(withImages(...spellings, ...others), ctx);
    expect(calls.map((call) => call.url)).toEqual(['http://[2002:5db8:d822::1]/a.png', ...others]);
  });

  it('at most 20 MiB of images in all per request, a lying content-length included', async () => {
    const big = new Uint8Array(12 * 1024 * 1024).fill(1);
    mockUpstream(() => new Response(new Blob([big]).stream(), { headers: { 'content-type': 'image/png' } }));
    await expect(gemini.chat.request(withImages('https://images.example.com/a.png', 'https://images.example.com/b.png'), ctx)).rejects.toMatchObject({
      code: 'image_unavailable',
    });
    vi.restoreAllMocks();
    mockUpstream(() => new Response(big, { headers: { 'content-type': 'image/png' } }));
    await expect(gemini.chat.request(withImages('https://images.example.com/a.png'), ctx)).resolves.toBeDefined();
  }, 60_000);

  it('gives up on an image that does not arrive in time', async () => {
    // A fetch that never answers, and gives up only when its signal says so (as the runtime's does).
    vi.spyOn(globalThis, 'fetch').mockImplementation(
      (_, init) => new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason))),
    );
    await expect(gemini.chat.request(withImages('https://images.example.com/slow.jpg'), ctx)).rejects.toMatchObject({
      code: 'image_unavailable',
      message: GENERIC,
    });
  }, 30_000);
});

describe('finding: images fetched again for each provider of a fallback chain and on count_tokens', () => {
  function twoGeminis() {
    const config = testConfig();
    config.providers.gemini = { ...config.providers.gemini, models: [{ id: 'gemini-2.0-flash', priority: 1 }] };
    config.providers['gemini-b'] = { ...config.providers.gemini, keys: [{ key: 'AIza-key-gemini-b' }], models: [{ id: 'gemini-2.0-flash', priority: 2 }] };
    return makeEnv({ config });
  }
  const body = (...urls: string[]) => ({
    model: 'gemini-2.0-flash',
    max_tokens: 16,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it?' }, ...urls.map((url) => ({ type: 'image_url', image_url: { url } }))] }],
  });

  it('a fallback chain fetches each image once', async () => {
    const env = await twoGeminis();
    const { calls } = mockUpstream((call) => {
      if (call.url.startsWith('https://images.example.com')) return image();
      if (call.headers.get('x-goog-api-key') === 'AIza-key-gemini-1')
        return Response.json({ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }, { status: 503 });
      return Response.json({
        candidates: [{ content: { role: 'model', parts: [{ text: 'a fox' }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2, totalTokenCount: 3 },
      });
    });
    const res = await app.request('/v1/chat/completions', postJson(body('https://images.example.com/fox.jpg')), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini-b');
    expect(calls.filter((c) => c.url.startsWith('https://images.example.com'))).toHaveLength(1);
  });

  it('count_tokens: 20 image URLs are refused with no fetch at all', async () => {
    const env = await twoGeminis();
    const { calls } = mockUpstream(image);
    const urls = Array.from({ length: 20 }, (_, i) => `https://images.example.com/${i}.jpg`);
    const anthropicBody = {
      model: 'gemini-2.0-flash',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'count' }, ...urls.map((url) => ({ type: 'image', source: { type: 'url', url } }))] }],
    };
    const res = await app.request('/v1/messages/count_tokens', postJson(anthropicBody, userHeaders(undefined, { 'anthropic-version': '2023-06-01' })), env);
    expect(res.status).toBe(400);
    expect(calls).toHaveLength(0);
  });
});
