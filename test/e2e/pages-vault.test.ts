import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AiConfig } from '../../src/vault/schema';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { type Browser, launchChromium } from './browser/chromium';
import { type CorsFront, startCorsFront } from './browser/cors-front';
import { buildPages, horizontalOverflow, screenshotsOf, unlabelledControls, VIEWPORTS } from './browser/pages';
import { decryptWithOpenssl, demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// The vault editor at `/vault`, served by the gateway in `wrangler dev`, driven in Chromium. What it
// saves is read back with the real `openssl` command.

const TOKEN = 'pages-vault-editor-token';
const users = demoUsers();

type Config = AiConfig & Record<string, unknown>;

/** Saving runs 100 000 PBKDF2 rounds in the browser and again in the worker. */
const SAVED = { timeout: 15_000 };

/** The demo vault as these tests were written for: Gemini's three models of 2025 (the thinking model is for the conformance tests). */
function editorVault(standInUrl: string) {
  const config = demoVault(standInUrl);
  config.providers.gemini!.models = config.providers.gemini!.models.filter((m) => m.id !== 'gemini-3-pro-preview');
  return config;
}

/** The demo vault with fields this project does not know, at every level. */
function vaultWithUnknownFields(standInUrl: string): Config {
  const config: Config = { ...editorVault(standInUrl), unknownTopLevel: { kept: true, list: [1, 'two', null] } };
  Object.assign(config.providers.groq!, { notes: 'a provider field the editor does not know' });
  Object.assign(config.providers.groq!.keys[0]!, { note: 'a key field', rotatedAt: '2026-01-01' });
  Object.assign(config.providers.groq!.models[0]!, { custom: { deep: [1, 2] } });
  return config;
}

describe('vault editor in Chromium', () => {
  let standIn: StandIn;
  let front: CorsFront;
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildPages();
    standIn = await startStandIn();
    front = await startCorsFront(standIn.url);
    [gateway, browser] = await Promise.all([startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await front?.close();
    await standIn?.close();
  });
  beforeEach(async () => {
    standIn.reset();
    await page?.close();
    page = await browser.context.newPage();
  });

  async function storeVault(config: Config) {
    const text = await encryptWithOpenssl(JSON.stringify(config), TOKEN);
    const res = await fetch(`${gateway.url}/ai.json.enc`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: text });
    expect(res.status, await res.text()).toBe(200);
  }

  async function storedVault(): Promise<{ text: string; config: Config }> {
    const text = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    return { text, config: JSON.parse(await decryptWithOpenssl(text, TOKEN)) as Config };
  }

  async function unlock(token = TOKEN) {
    await page.goto(`${gateway.url}/vault`);
    await page.getByLabel('Vault token').fill(token);
    await page.getByRole('button', { name: 'Decrypt' }).click();
  }

  const card = (provider: string) => page.locator(`section[data-provider="${provider}"]`);
  const modelIds = (section: Locator) => section.locator('li.model .model-id').allTextContents();
  const draftState = () => page.locator('#draft-state').textContent();

  /** A real pointer drag: press on the handle, move in steps, release over the target. */
  async function drag(handle: Locator, target: Locator) {
    await target.scrollIntoViewIfNeeded();
    await handle.scrollIntoViewIfNeeded();
    const from = (await handle.boundingBox())!;
    const to = (await target.boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(to.x + to.width / 2, to.y + 4, { steps: 12 });
    await page.mouse.move(to.x + to.width / 2, to.y + 2, { steps: 4 });
    await page.mouse.up();
  }

  it('decrypts in the browser, reorders by drag and by keyboard, adds a key, saves what openssl reads', async () => {
    const original = vaultWithUnknownFields(standIn.url);
    await storeVault(original);

    await unlock('not-the-token');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/refused this token: it is not the vault token/);
    await page.getByLabel('Vault token').fill(TOKEN);
    await page.getByRole('button', { name: 'Decrypt' }).click();
    await expect.poll(() => page.locator('section.provider h2').allTextContents()).toEqual(['groq', 'anthropic', 'gemini']);
    expect(await draftState()).toBe('No unsaved changes');

    // Models are listed by priority (vault order among equals).
    const groq = card('groq');
    expect(await modelIds(groq)).toEqual(['llama-3.3-70b-versatile', 'nomic-embed-text-v1.5', 'llama-3.1-8b-instant']);
    await drag(groq.getByRole('button', { name: /^Move llama-3.1-8b-instant/ }), groq.locator('li.model').first());
    await expect.poll(() => modelIds(groq)).toEqual(['llama-3.1-8b-instant', 'llama-3.3-70b-versatile', 'nomic-embed-text-v1.5']);
    expect(await groq.locator('li.model .priority').allTextContents()).toEqual(['priority 0', 'priority 10', 'priority 20']);
    expect(await draftState()).toBe('Unsaved changes');

    // Without a mouse: arrow keys on a model's handle move it, and focus stays with it.
    const gemini = card('gemini');
    await gemini.getByRole('button', { name: /^Move gemini-2.5-flash/ }).focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await modelIds(gemini)).toEqual(['gemini-2.5-flash', 'gemini-2.0-flash', 'text-embedding-004']);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Move gemini-2.5-flash (position 1 of 3)');
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('gemini-2.5-flash moved to position 1 of 3.');

    // A new key, masked until revealed; another marked expired.
    const anthropic = card('anthropic');
    await anthropic.getByLabel('New key').fill('sk-ant-added-in-the-browser');
    await anthropic.locator('form.add-key').getByLabel('Owner').fill('browser');
    await anthropic.locator('form.add-key').getByLabel('Type').selectOption('paid');
    await anthropic.getByRole('button', { name: 'Add key' }).click();
    const added = anthropic.getByLabel('Key 3', { exact: true });
    expect(await added.getAttribute('type')).toBe('password');
    await anthropic.getByRole('button', { name: 'Show anthropic key 3' }).click();
    expect(await added.getAttribute('type')).toBe('text');
    expect(await added.inputValue()).toBe('sk-ant-added-in-the-browser');
    await groq.locator('li.key').nth(1).getByLabel('Type').selectOption('expired');
    expect(await groq.locator('li.key').nth(1).locator('.key-state').textContent()).toBe('expired: never used');

    const put = page.waitForRequest((request) => request.method() === 'PUT');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#message').textContent(), SAVED).toMatch(/^Saved\. The gateway now serves 3 providers, 7 keys and 8 models\./);
    expect(await draftState()).toBe('No unsaved changes');

    // The browser sent ciphertext in openssl's layout, never the plaintext.
    const body = (await put).postData()!;
    expect(body).not.toContain('sk-ant-added-in-the-browser');
    expect(body).not.toContain('providers');
    expect(body.endsWith('\n')).toBe(true);
    expect(
      body
        .trimEnd()
        .split('\n')
        .every((line) => line.length <= 64 && /^[A-Za-z0-9+/=]+$/.test(line)),
    ).toBe(true);

    const stored = await storedVault();
    expect(stored.text).toBe(body);
    const expected = vaultWithUnknownFields(standIn.url);
    const [g70, g8, gEmbed] = expected.providers.groq!.models;
    expected.providers.groq!.models = [
      { ...g8!, priority: 0 },
      { ...g70!, priority: 10 },
      { ...gEmbed!, priority: 20 },
    ];
    const [flash20, flash25, embedding] = expected.providers.gemini!.models;
    expected.providers.gemini!.models = [
      { ...flash25!, priority: 0 },
      { ...flash20!, priority: 10 },
      { ...embedding!, priority: 20 },
    ];
    expected.providers.groq!.keys[1]!.type = 'expired';
    expected.providers.anthropic!.keys.push({ key: 'sk-ant-added-in-the-browser', owner: 'browser', type: 'paid' });
    expect(stored.config).toEqual(expected);

    // The gateway serves the new order at once.
    const listed = await fetch(`${gateway.url}/groq/v1/models`, { headers: { authorization: `Bearer ${users.ronan!.key}` } });
    expect(((await listed.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      'llama-3.1-8b-instant',
      'llama-3.3-70b-versatile',
      'nomic-embed-text-v1.5',
    ]);
  });

  it('refreshes models from each provider API; a refusal (401, CORS) is shown and changes nothing', async () => {
    const config = editorVault(front.url);
    // A model the Gemini API lists but the vault lacks: the refresh appends it with its token limits.
    config.providers.gemini!.models = config.providers.gemini!.models.filter((m) => m.id !== 'gemini-2.5-flash');
    config.providers.blocked = {
      protocol: 'openai',
      endpoint: `${standIn.url}/openai/v1/chat/completions`,
      keys: [{ key: 'gsk_blocked_key' }],
      models: [{ id: 'llama-3.3-70b-versatile', usage: 'chat', priority: 0 }],
    };
    await storeVault(config);
    await unlock();
    const groq = card('groq');
    await expect.poll(() => modelIds(groq)).toEqual(['llama-3.3-70b-versatile', 'nomic-embed-text-v1.5', 'llama-3.1-8b-instant']);

    standIn.revokeKey('gsk_standin_groq_key_1');
    await groq.getByRole('button', { name: 'Refresh from API' }).click();
    await expect.poll(() => groq.getByRole('alert').textContent()).toMatch(/refused to list its models \(401: .+\)\. Nothing was changed\./);
    expect(await modelIds(groq)).toEqual(['llama-3.3-70b-versatile', 'nomic-embed-text-v1.5', 'llama-3.1-8b-instant']);
    expect(await draftState()).toBe('No unsaved changes');

    standIn.reset();
    await groq.getByRole('button', { name: 'Refresh from API' }).click();
    await expect.poll(() => groq.getByRole('status').textContent()).toMatch(/2 new, added at the bottom/);
    expect(await modelIds(groq)).toEqual([
      'llama-3.3-70b-versatile',
      'nomic-embed-text-v1.5',
      'llama-3.1-8b-instant',
      'openai/gpt-oss-120b',
      'whisper-large-v3-turbo',
    ]);
    const whisper = groq.locator('li.model').nth(4);
    expect(await whisper.getByLabel('Usage').inputValue()).toBe('transcription');
    expect(await whisper.getByLabel('Context window').inputValue()).toBe('448');
    const groqList = standIn.requests.find((r) => r.path === '/openai/v1/models');
    expect(groqList?.headers.authorization).toBe('Bearer gsk_standin_groq_key_1');

    const anthropic = card('anthropic');
    await anthropic.getByRole('button', { name: 'Refresh from API' }).click();
    await expect.poll(() => anthropic.getByRole('status').textContent()).toMatch(/no new ones/);
    const anthropicList = standIn.requests.find((r) => r.path.startsWith('/anthropic/v1/models'));
    expect(anthropicList?.headers).toMatchObject({
      'x-api-key': 'sk-ant-standin-key-1',
      'anthropic-version': '2023-06-01',
      'anthropic-dangerous-direct-browser-access': 'true',
    });

    const gemini = card('gemini');
    await gemini.getByRole('button', { name: 'Refresh from API' }).click();
    await expect.poll(() => gemini.getByRole('status').textContent()).toMatch(/2 new, added at the bottom/);
    expect(await modelIds(gemini)).toEqual(['gemini-2.0-flash', 'text-embedding-004', 'gemini-2.5-flash', 'gemini-3-pro-preview']);
    expect(standIn.requests.some((r) => r.path.startsWith('/gemini/v1beta/models?') && r.path.includes('key=AIza-standin-gemini-key-1'))).toBe(true);

    // The stand-in itself sends no CORS headers: the browser refuses to let the page read it.
    const blocked = card('blocked');
    await blocked.getByRole('button', { name: 'Refresh from API' }).click();
    await expect.poll(() => blocked.getByRole('alert').textContent()).toMatch(/CORS.*Nothing was changed\./);
    expect(await modelIds(blocked)).toEqual(['llama-3.3-70b-versatile']);

    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#message').textContent(), SAVED).toMatch(/^Saved\./);
    const saved = (await storedVault()).config;
    expect(saved.providers.groq!.models.map((m) => [m.id, m.usage, m.priority])).toEqual([
      ['llama-3.3-70b-versatile', 'chat', 0],
      ['nomic-embed-text-v1.5', 'embedding', 10],
      ['llama-3.1-8b-instant', 'chat', 20],
      ['openai/gpt-oss-120b', 'chat', 30],
      ['whisper-large-v3-turbo', 'transcription', 40],
    ]);
    expect(saved.providers.groq!.models[3]).toMatchObject({ contextWindow: 131072, maxOutputTokens: 65536 });
    expect(saved.providers.gemini!.models.map((m) => [m.id, m.usage, m.priority])).toEqual([
      ['gemini-2.0-flash', 'chat', 0],
      ['text-embedding-004', 'embedding', 10],
      ['gemini-2.5-flash', 'chat', 20],
      ['gemini-3-pro-preview', 'chat', 30],
    ]);
    expect(saved.providers.gemini!.models[2]).toEqual({ id: 'gemini-2.5-flash', usage: 'chat', contextWindow: 1048576, maxOutputTokens: 65536, priority: 20 });
    expect(saved.providers.blocked!.models).toEqual([{ id: 'llama-3.3-70b-versatile', usage: 'chat', priority: 0 }]);
  });

  it('adds and removes providers; a save the gateway refuses says why and keeps the stored vault', async () => {
    await storeVault(vaultWithUnknownFields(standIn.url));
    await unlock();
    await expect.poll(() => page.locator('section.provider h2').allTextContents()).toEqual(['groq', 'anthropic', 'gemini']);

    // A known id fills in its protocol and endpoint.
    await page.getByLabel('Provider id').fill('mistral');
    expect(await page.getByLabel('Protocol', { exact: true }).last().inputValue()).toBe('mistral');
    expect(await page.getByLabel('Endpoint', { exact: true }).last().inputValue()).toBe('https://api.mistral.ai/v1');
    await page.getByRole('button', { name: 'Add provider' }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('mistral');
    const mistral = card('mistral');
    await mistral.getByLabel('New key').fill('mistral-key-from-the-browser');
    await mistral.getByLabel('New key').press('Enter');
    await mistral.getByLabel('New model id').fill('mistral-small-latest');
    await mistral.getByRole('button', { name: 'Add model' }).click();

    page.once('dialog', (dialog) => void dialog.accept());
    await card('gemini').getByRole('button', { name: 'Remove provider gemini' }).click();
    await expect.poll(() => page.locator('section.provider h2').allTextContents()).toEqual(['groq', 'anthropic', 'mistral']);

    // Leaving with unsaved changes asks first.
    const leaving = new Promise<string>((resolve) => page.once('dialog', (dialog) => void dialog.dismiss().then(() => resolve(dialog.type()))));
    await page.close({ runBeforeUnload: true });
    expect(await leaving).toBe('beforeunload');
    expect(page.isClosed()).toBe(false);

    // The page checks form fields, the gateway checks the rest: an ftp endpoint is refused by the gateway.
    const before = await storedVault();
    const endpoint = card('groq').getByLabel('Endpoint', { exact: true });
    await endpoint.fill('ftp://files.example.com/v1');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(() => page.getByRole('alert').first().textContent(), SAVED)
      .toMatch(/^Not saved\. The gateway refused it: .*providers\.groq\.endpoint: must be an https URL/);
    expect((await storedVault()).text).toBe(before.text);
    expect(await draftState()).toBe('Unsaved changes');

    await endpoint.fill(`${standIn.url}/openai/v1`);
    await page.keyboard.press('Control+s');
    await expect.poll(() => page.locator('#message').textContent(), SAVED).toMatch(/^Saved\./);
    const saved = (await storedVault()).config;
    expect(Object.keys(saved.providers)).toEqual(['groq', 'anthropic', 'mistral']);
    expect(saved.providers.mistral).toEqual({
      protocol: 'mistral',
      endpoint: 'https://api.mistral.ai/v1',
      keys: [{ key: 'mistral-key-from-the-browser' }],
      models: [{ id: 'mistral-small-latest', usage: 'chat', priority: 0 }],
    });
    expect(saved.unknownTopLevel).toEqual({ kept: true, list: [1, 'two', null] });
  });

  it('labels every control, fits 375 px; screenshots: light and dark, desktop and narrow', async () => {
    await storeVault(vaultWithUnknownFields(standIn.url));
    await unlock();
    await expect.poll(() => page.locator('section.provider').count()).toBe(3);
    await card('groq').locator('li.key').nth(1).getByLabel('Type').selectOption('expired');

    expect(await unlabelledControls(page)).toEqual([]);
    await page.setViewportSize(VIEWPORTS.narrow);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await unlabelledControls(page)).toEqual([]);
    await page.setViewportSize(VIEWPORTS.desktop);

    expect(await screenshotsOf(page, 'vault')).toHaveLength(4);
  });

  it('loads in a few requests, all from this origin; reports the bytes transferred', async () => {
    await page.goto(`${gateway.url}/vault`, { waitUntil: 'load' });
    const entries = await page.evaluate(() =>
      [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((entry) => ({
        name: entry.name,
        encodedBodySize: (entry as PerformanceResourceTiming).encodedBodySize,
      })),
    );
    for (const entry of entries) expect(new URL(entry.name).origin).toBe(gateway.url);
    const body = entries.reduce((sum, entry) => sum + entry.encodedBodySize, 0);
    console.log(`vault editor: ${entries.length} requests, ${body} bytes of compressed bodies`);
    expect(body).toBeLessThan(40 * 1024);
  });
});

describe('vault editor on a gateway with no vault yet', () => {
  let gateway: Gateway;
  let browser: Browser;

  beforeAll(async () => {
    await buildPages();
    [gateway, browser] = await Promise.all([startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('starts an empty vault, fills it in, and saves the first vault', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${gateway.url}/vault`);
    await page.getByLabel('Vault token').fill(TOKEN);
    await page.getByRole('button', { name: 'Decrypt' }).click();
    await page.getByRole('button', { name: 'Start an empty vault' }).click();
    await page.getByLabel('Provider id').fill('groq');
    await page.getByRole('button', { name: 'Add provider' }).click();
    const groq = page.locator('section[data-provider="groq"]');
    await groq.getByLabel('New key').fill('gsk_first_key');
    await groq.getByRole('button', { name: 'Add key' }).click();
    await groq.getByLabel('New model id').fill('llama-3.3-70b-versatile');
    await groq.getByRole('button', { name: 'Add model' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#message').textContent(), SAVED).toMatch(/^Saved\. The gateway now serves 1 provider, 1 key and 1 model\./);

    const text = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(JSON.parse(await decryptWithOpenssl(text, TOKEN))).toEqual({
      version: 1,
      providers: {
        groq: {
          protocol: 'groq',
          endpoint: 'https://api.groq.com/openai/v1',
          keys: [{ key: 'gsk_first_key' }],
          models: [{ id: 'llama-3.3-70b-versatile', usage: 'chat', priority: 0 }],
        },
      },
    });
  });
});
