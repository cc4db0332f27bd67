import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { type Browser, launchChromium } from './browser/chromium';
import { buildPages, horizontalOverflow, screenshotsOf, unlabelledControls, VIEWPORTS } from './browser/pages';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// The playground at `/`, served by the gateway in `wrangler dev`, driven in Chromium against the
// stand-in providers.

const TOKEN = 'pages-playground-vault-token';
const users = demoUsers();
const userKey = users.ronan!.key;

describe('playground in Chromium', () => {
  let standIn: StandIn;
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildPages();
    standIn = await startStandIn();
    const vault = demoVault(standIn.url);
    vault.providers.groq!.models.push({ id: 'gpt-image-1', usage: 'image-generation', priority: 5 });
    const vaultText = await encryptWithOpenssl(JSON.stringify(vault), TOKEN);
    [gateway, browser] = await Promise.all([startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0' }, users, vaultText }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await standIn?.close();
  });
  beforeEach(async () => {
    standIn.reset();
    standIn.paceMs = 5;
    await page?.close();
    page = await browser.context.newPage();
  });

  async function connect(key = userKey) {
    await page.goto(`${gateway.url}/`);
    await page.getByLabel('Gateway key').fill(key);
    await page.getByRole('button', { name: 'Connect' }).click();
    // The first call after start decrypts the vault (100 000 PBKDF2 rounds) in the worker.
    await expect.poll(() => page.locator('#key-help').textContent(), { timeout: 10_000 }).toMatch(/^(Connected|Not connected)/);
  }

  async function choose(provider: string, model: string) {
    await page.getByLabel('Provider').selectOption(provider);
    await expect.poll(() => page.getByLabel('Model').locator(`option[value="${model}"]`).count()).toBe(1);
    await page.getByLabel('Model').selectOption(model);
  }

  it('is served by the worker with its assets from the same origin, and a strict CSP', async () => {
    const res = await fetch(`${gateway.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*connect-src 'self'/);
    const html = await res.text();
    expect(html).toContain('<title>Switchyard playground</title>');
    // No CDN, no remote font: every URL the page names is on this origin.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const asset of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
      const served = await fetch(`${gateway.url}${asset[1]}`);
      expect(served.status, asset[1]).toBe(200);
      expect(served.headers.get('cache-control')).toContain('immutable');
    }
  });

  it('lists the providers and models for the key, streams an answer as it arrives', async () => {
    standIn.paceMs = 120;
    await connect();
    await expect
      .poll(() => page.getByLabel('Provider').locator('option').allTextContents())
      .toEqual(['groq (openai)', 'anthropic (anthropic)', 'gemini (gemini)']);
    // Embedding models cannot be tried with a prompt: only chat and image models are offered.
    await expect
      .poll(() => page.getByLabel('Model').locator('option').allTextContents())
      .toEqual(['llama-3.3-70b-versatile', 'llama-3.1-8b-instant', 'gpt-image-1']);
    await choose('groq', 'llama-3.1-8b-instant');
    await page.getByLabel('System prompt').fill('Answer briefly.');
    await page.getByLabel('Prompt', { exact: true }).fill('hello from the browser playground');
    await page.getByRole('button', { name: 'Send' }).click();

    // Mid-stream: part of the answer is on screen while the rest is still coming.
    const answer = page.locator('#answer');
    await expect.poll(() => answer.textContent(), { timeout: 10_000 }).toMatch(/^Echo: /);
    const partial = (await answer.textContent())!;
    expect(partial.length).toBeLessThan('Echo: hello from the browser playground'.length);
    expect(await page.locator('section.answer').getAttribute('aria-busy')).toBe('true');
    expect(await page.getByRole('button', { name: 'Stop' }).isEnabled()).toBe(true);

    await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toMatch(/^Done in/);
    expect(await answer.textContent()).toBe('Echo: hello from the browser playground');

    const sent = standIn.requests.find((r) => r.path === '/openai/v1/chat/completions');
    expect(JSON.parse(sent!.body)).toMatchObject({
      model: 'llama-3.1-8b-instant',
      stream: true,
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'hello from the browser playground' },
      ],
    });
    // The key lives in this tab's sessionStorage only, never in the address bar.
    expect(page.url()).toBe(`${gateway.url}/`);
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard-user-key'))).toBe(userKey);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(userKey);
  });

  it('streams from Anthropic and Gemini providers through their native operations', async () => {
    await connect();
    for (const [provider, model, path] of [
      ['anthropic', 'claude-haiku-4-5-20251001', '/anthropic/v1/messages'],
      ['gemini', 'gemini-2.5-flash', '/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent'],
    ] as const) {
      await choose(provider, model);
      await page.getByLabel('Prompt', { exact: true }).fill(`hi ${provider}`);
      await page.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toMatch(/^Done in/);
      expect(await page.locator('#answer').textContent()).toBe(`Echo: hi ${provider}`);
      expect(standIn.requests.some((r) => r.path.startsWith(path))).toBe(true);
    }
  });

  it('keeps the key for the tab: a reload reconnects without typing it again', async () => {
    await connect();
    await choose('anthropic', 'claude-sonnet-5');
    await page.reload();
    expect(await page.getByLabel('Gateway key').inputValue()).toBe(userKey);
    await expect.poll(() => page.getByLabel('Model').inputValue()).toBe('claude-sonnet-5');
  });

  it('Stop ends the answer where it is', async () => {
    standIn.paceMs = 400;
    await connect();
    await choose('groq', 'llama-3.3-70b-versatile');
    await page.getByLabel('Prompt', { exact: true }).fill('one two three four five six seven eight nine ten');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('#answer').textContent(), { timeout: 10_000 }).toMatch(/^Echo: /);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.locator('#status').textContent()).toBe('Stopped.');
    const kept = await page.locator('#answer').textContent();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await page.locator('#answer').textContent()).toBe(kept);
    expect(kept!.length).toBeLessThan('Echo: one two three four five six seven eight nine ten'.length);
    expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
  });

  it('generates an image with an image model and shows it', async () => {
    await connect();
    await choose('groq', 'gpt-image-1');
    expect(await page.getByLabel('System prompt').isVisible()).toBe(false);
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
    await page.getByRole('button', { name: 'Generate image' }).click();
    const image = page.getByRole('img', { name: /a lighthouse at dusk/ });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(JSON.parse(standIn.requests.find((r) => r.path === '/openai/v1/images/generations')!.body)).toMatchObject({
      model: 'gpt-image-1',
      prompt: 'a lighthouse at dusk',
    });
  });

  it('says what went wrong in words: an unknown key, a rate-limited provider', async () => {
    await connect('not-a-real-key');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/did not accept this key/);
    expect(await page.getByLabel('Provider').isDisabled()).toBe(true);

    // Every Gemini key is rate limited: the gateway rests them (so no later test uses Gemini) and passes the 429 on.
    await connect();
    await choose('gemini', 'gemini-2.0-flash');
    standIn.addFault({ path: '/gemini/', status: 429, retryAfter: 2, times: Infinity });
    await page.getByLabel('Prompt', { exact: true }).fill('are you there?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toMatch(/^Too many requests: wait 2 seconds and try again \(.+\)\.$/);
    expect(await page.locator('#answer').textContent()).toBe('');
  });

  it('remembers the theme, works from the keyboard, labels every control, fits 375 px', async () => {
    await connect();
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await page.reload();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed')).toBe('true');

    // Keyboard only: Tab to the prompt, type, Ctrl+Enter sends.
    await choose('groq', 'llama-3.3-70b-versatile');
    await page.getByLabel('Model').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');
    await page.keyboard.type('typed on a keyboard');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.locator('#answer').textContent(), { timeout: 15_000 }).toBe('Echo: typed on a keyboard');

    expect(await unlabelledControls(page)).toEqual([]);
    await page.setViewportSize(VIEWPORTS.narrow);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await unlabelledControls(page)).toEqual([]);
    await page.setViewportSize(VIEWPORTS.desktop);
  });

  it('screenshots: light and dark, desktop and narrow', async () => {
    await connect();
    await choose('groq', 'llama-3.3-70b-versatile');
    await page.getByLabel('System prompt').fill('You are a concise assistant.');
    await page.getByLabel('Prompt', { exact: true }).fill('Say hello to the Switchyard playground.');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 15_000 }).toMatch(/^Done in/);
    const files = await screenshotsOf(page, 'playground');
    expect(files).toHaveLength(4);
  });

  it('loads in a few requests, all from this origin; reports the bytes transferred', async () => {
    await page.goto(`${gateway.url}/`, { waitUntil: 'load' });
    const entries = await page.evaluate(() =>
      [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((entry) => ({
        name: entry.name,
        encodedBodySize: (entry as PerformanceResourceTiming).encodedBodySize,
      })),
    );
    for (const entry of entries) expect(new URL(entry.name).origin).toBe(gateway.url);
    const body = entries.reduce((sum, entry) => sum + entry.encodedBodySize, 0);
    console.log(`playground: ${entries.length} requests, ${body} bytes of compressed bodies`);
    expect(body).toBeLessThan(30 * 1024);
  });
});
