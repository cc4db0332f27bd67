import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { type Browser, launchChromium } from './browser/chromium';
import { buildPages, unlabelledControls } from './browser/pages';
import { decryptWithOpenssl, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// Routing in the browser pages, driven in Chromium against wrangler dev: the vault editor shows each
// fallback chain and edits its routing mode and weights (read back with openssl); the operator
// console shows each provider's routing signals with a chart once traffic has passed.

const TOKEN = 'pages-routing-token';
const USER_KEY = 'sy-pages-routing-user-0123456789';

function vault(url: string) {
  const provider = (key: string) => ({
    protocol: 'openai',
    endpoint: `${url}/openai/v1`,
    keys: [{ key }],
    models: [{ id: 'shared-model', usage: 'chat', priority: 1 }],
  });
  return { version: 1, providers: { alpha: provider('alpha-key'), beta: provider('beta-key') } };
}

describe('routing in the pages', () => {
  let standIn: StandIn;
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildPages();
    standIn = await startStandIn();
    [gateway, browser] = await Promise.all([
      startGateway({
        vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0', SIGNAL_WINDOW_MS: '1000', SIGNAL_FLUSH_MS: '100' },
        users: { router: { key: USER_KEY } },
        vaultText: await encryptWithOpenssl(JSON.stringify(vault(standIn.url)), TOKEN),
      }),
      launchChromium(),
    ]);
    page = await browser.context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await standIn?.close();
  });

  it('the vault editor shows the chain and saves a weighted route with its weights', async () => {
    await page.goto(`${gateway.url}/vault`);
    await page.getByLabel('Vault token').fill(TOKEN);
    await page.getByRole('button', { name: 'Decrypt' }).click();
    const route = page.locator('.route[data-model="shared-model"]');
    await route.waitFor();
    expect(await route.textContent()).toContain('Listed by alpha, beta.');
    expect(await route.getByLabel('Routing').inputValue()).toBe('priority');
    expect(await route.getByLabel('Weight of alpha').isVisible()).toBe(false);

    await route.getByLabel('Routing').selectOption('weighted');
    await route.getByLabel('Weight of alpha').fill('90');
    await route.getByLabel('Weight of beta').fill('10');
    expect(await unlabelledControls(page)).toEqual([]);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#draft-state').textContent(), { timeout: 15_000 }).toBe('No unsaved changes');

    const text = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const saved = JSON.parse(await decryptWithOpenssl(text, TOKEN)) as { routes?: unknown };
    expect(saved.routes).toEqual({ 'shared-model': { routing: 'weighted', weights: { alpha: 90, beta: 10 } } });

    // The gateway routes by it (its vault cache lives 10 s).
    await expect
      .poll(
        async () => {
          const res = await fetch(`${gateway.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'shared-model', messages: [{ role: 'user', content: 'hi' }] }),
          });
          await res.text();
          return res.headers.get('x-switchyard-route');
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe('weighted 90/10');

    // Back to priority (the default): `routing` goes, the weights stay for a later switch.
    await page.reload();
    await page.getByLabel('Vault token').fill(TOKEN);
    await page.getByRole('button', { name: 'Decrypt' }).click();
    await route.getByLabel('Routing').selectOption('priority');
    await route.getByLabel('Weight of alpha').waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#draft-state').textContent(), { timeout: 15_000 }).toBe('No unsaved changes');
    const again = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect((JSON.parse(await decryptWithOpenssl(again, TOKEN)) as { routes?: unknown }).routes).toEqual({
      'shared-model': { weights: { alpha: 90, beta: 10 } },
    });
  });

  it("the operator console shows each provider's signals, a chart and each key's headroom", async () => {
    standIn.setKeyLimit({ key: 'alpha-key', tokens: 100_000, windowMs: 60_000 });
    standIn.setKeyLimit({ key: 'beta-key', tokens: 100_000, windowMs: 60_000 });
    const started = Date.now();
    while (Date.now() - started < 3_500) {
      for (const provider of ['alpha', 'beta']) {
        const res = await fetch(`${gateway.url}/${provider}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'shared-model', messages: [{ role: 'user', content: 'signal' }] }),
        });
        expect(res.status).toBe(200);
        await res.text();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.goto(`${gateway.url}/admin`);
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const card = page.locator('.signal-card[data-provider="alpha"]');
    await card.waitFor();
    expect(await card.locator('.summary').textContent()).toMatch(/^TTFB \d+ ms · [\d.]+ tok\/s · errors 0\.0 % · 429 0\.0 %$/);
    expect(await card.locator('li').first().textContent()).toMatch(/^key #1: .*headroom [\d,]+ tokens for \d+ s$/);
    await card.locator('.signal-chart canvas').waitFor();
    expect(await page.locator('#health').textContent()).not.toContain('alpha-key');
  });
});
