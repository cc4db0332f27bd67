import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { seedRecords, seedSql } from '../../dev/usage-seed';
import { type Browser, launchChromium } from './browser/chromium';
import { buildPages, horizontalOverflow, screenshotsOf, unlabelledControls, VIEWPORTS } from './browser/pages';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// The operator console at `/admin`, served by the gateway in `wrangler dev` (D1 seeded with usage
// records), driven in Chromium: users, the usage chart against its table and the API, the request log.

const TOKEN = 'pages-admin-operator-token';
const users = demoUsers();
const operator = { authorization: `Bearer ${TOKEN}` };

interface UsageLine {
  day?: string;
  provider?: string;
  model?: string;
  user?: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

describe('operator console in Chromium', () => {
  let standIn: StandIn;
  let gateway: Gateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await buildPages();
    standIn = await startStandIn();
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN);
    [gateway, browser] = await Promise.all([
      startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0' }, users, vaultText, d1Sql: seedSql(seedRecords()) }),
      launchChromium(),
    ]);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.url });
    // Four wrangler runs (KV, D1 schema, D1 records, dev) before the first test: slow on a busy machine.
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
    await standIn?.close();
  });
  beforeEach(async () => {
    await page?.close();
    page = await browser.context.newPage();
  });

  const api = async <T>(path: string) => {
    const res = await fetch(`${gateway.url}${path}`, { headers: operator });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const userCall = async (key: string) => (await fetch(`${gateway.url}/v1/providers`, { headers: { authorization: `Bearer ${key}` } })).status;

  async function signIn() {
    await page.goto(`${gateway.url}/admin`);
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#users-table tbody tr').first().waitFor();
    // The usage table is filled once the five usage queries have answered.
    await page.locator('#usage-table tbody tr').first().waitFor();
  }

  const userRow = (name: string) => page.locator('#users-table tbody tr').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

  it('refuses a wrong token and keeps it nowhere; signs in with the right one', async () => {
    await page.goto(`${gateway.url}/admin`);
    await page.getByLabel('Operator token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('did not accept');
    expect(await page.locator('#console').isHidden()).toBe(true);
    await signIn();
    expect(await userRow('ronan').count()).toBe(1);
    expect(await userRow('audrey').locator('td').nth(1).textContent()).toBe('30');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie + location.href);
    expect(stored).not.toContain(TOKEN);
  });

  it('creates a user whose key (shown once, copied) calls the gateway; rotating refuses the old key', async () => {
    await signIn();
    await page.getByLabel('Name').fill('zoe');
    await page.locator('#create-fields').getByLabel('Requests per minute').fill('40');
    await page.getByRole('button', { name: 'Create user' }).click();
    const keyBox = page.getByLabel('New key');
    await expect.poll(() => keyBox.inputValue()).toMatch(/^sy-/);
    const key = await keyBox.inputValue();
    await page.getByRole('button', { name: 'Copy' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    expect(await userRow('zoe').locator('td').nth(0).textContent()).toBe(`…${key.slice(-4)}`);
    expect(await userRow('zoe').locator('td').nth(1).textContent()).toBe('40');
    expect(await userCall(key)).toBe(200);

    // A chat call with the new key reaches the stand-in provider.
    const chat = await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(200);

    await page.getByRole('button', { name: 'Done' }).click();
    expect(await keyBox.isHidden()).toBe(true);

    await page.getByRole('button', { name: 'Rotate the key of zoe' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    await expect.poll(() => keyBox.inputValue()).not.toBe('');
    const rotated = await keyBox.inputValue();
    expect(rotated).not.toBe(key);
    expect(await userCall(key)).toBe(401);
    expect(await userCall(rotated)).toBe(200);
  });

  it('edits, disables and deletes (after confirmation) with the keyboard', async () => {
    await signIn();
    await page.getByLabel('Name').fill('yann');
    await page.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => page.getByLabel('New key').inputValue()).toMatch(/^sy-/);
    const key = await page.getByLabel('New key').inputValue();

    await page.getByRole('button', { name: 'Edit yann' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Monthly budget (USD)').fill('12.5');
    await dialog.getByLabel('Models (comma-separated)').fill('groq/*, gpt-4o-mini');
    await dialog.getByLabel('Monthly budget (USD)').press('Enter');
    await expect.poll(() => userRow('yann').locator('td').nth(4).textContent()).toBe('$12.50');
    expect(await userRow('yann').locator('td').nth(3).textContent()).toBe('groq/*, gpt-4o-mini');
    const listed = (await api<{ data: { name: string; monthlyBudgetUsd: number; models: string[] }[] }>('/admin/users')).data.find((u) => u.name === 'yann');
    expect(listed).toMatchObject({ monthlyBudgetUsd: 12.5, models: ['groq/*', 'gpt-4o-mini'] });

    await page.getByRole('button', { name: 'Disable yann' }).click();
    await expect.poll(() => userRow('yann').locator('td').nth(7).textContent()).toBe('disabled');
    expect(await userCall(key)).toBe(403);

    // Cancelling a delete keeps the user (Escape closes the dialog).
    await page.getByRole('button', { name: 'Delete yann' }).click();
    await page.keyboard.press('Escape');
    expect(await userRow('yann').count()).toBe(1);
    await page.getByRole('button', { name: 'Delete yann' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => userRow('yann').count()).toBe(0);
    expect(await userCall(key)).toBe(401);
  });

  it('draws the chart from the seeded records: its values, the table and the API agree', async () => {
    await signIn();
    const from = await page.getByLabel('From', { exact: true }).inputValue();
    const to = await page.getByLabel('To', { exact: true }).inputValue();
    const stacked = await api<{ data: UsageLine[] }>(`/admin/usage?from=${from}&to=${to}&group_by=day,provider,model`);
    const perDay = await api<{ data: UsageLine[] }>(`/admin/usage?from=${from}&to=${to}&group_by=day`);
    expect(stacked.data.length).toBeGreaterThan(10);

    // The table: one column per model, one row per day, each cell the API's cost.
    const headers = (await page.locator('#usage-table thead th').allTextContents()).slice(1, -1);
    const usd = (n: number | null) => (n === null ? '—' : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`);
    const rows = page.locator('#usage-table tbody tr');
    expect(await rows.count()).toBe(14);
    for (const line of stacked.data) {
      const row = rows.filter({ has: page.getByRole('rowheader', { name: line.day!, exact: true }) });
      const column = headers.indexOf(`${line.provider}/${line.model}`);
      expect(column, `${line.provider}/${line.model}`).toBeGreaterThanOrEqual(0);
      expect(await row.locator('td').nth(column).textContent()).toBe(usd(line.cost_usd));
    }
    for (const line of perDay.data) {
      const row = rows.filter({ has: page.getByRole('rowheader', { name: line.day!, exact: true }) });
      expect(await row.locator('td').last().textContent()).toBe(usd(line.cost_usd));
    }

    // The chart: bars are drawn, and hovering a day shows the same values in its legend.
    const painted = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('#usage-chart canvas')!;
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let coloured = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) coloured++;
      return coloured;
    });
    expect(painted).toBeGreaterThan(1000);
    await page.locator('#usage-chart .u-over').scrollIntoViewIfNeeded();
    const over = (await page.locator('#usage-chart .u-over').boundingBox())!;
    for (const dayIndex of [3, 10, 13]) {
      // The x scale runs from -0.6 to 13.6: day i is at (i + 0.6) / 14.2 of the width.
      await page.mouse.move(over.x + ((dayIndex + 0.6) / 14.2) * over.width, over.y + over.height / 2);
      const day = await rows.nth(dayIndex).locator('th').textContent();
      await expect.poll(() => page.locator('#usage-chart .u-legend tr').first().locator('.u-value').textContent()).toBe(day);
      const legend = await page
        .locator('#usage-chart .u-legend tr.u-series')
        .evaluateAll((trs) => trs.slice(1).map((tr) => [tr.querySelector('.u-label')!.textContent, tr.querySelector('.u-value')!.textContent]));
      const cells = await rows.nth(dayIndex).locator('td').allTextContents();
      for (const [label, value] of legend) {
        const cell = cells[headers.indexOf(label!)]!;
        expect(value, `${day} ${label}`).toBe(cell);
      }
    }

    // Tokens stacked by user: the table follows, from the API again.
    await page.getByLabel('Show').selectOption('tokens');
    await page.getByLabel('Stacked by').selectOption('user');
    await expect.poll(() => page.locator('#usage-table caption').textContent()).toBe('Tokens per day, by user');
    const byUser = await api<{ data: UsageLine[] }>(`/admin/usage?from=${from}&to=${to}&group_by=day,user`);
    const userHeaders = (await page.locator('#usage-table thead th').allTextContents()).slice(1, -1);
    for (const line of byUser.data.slice(0, 8)) {
      const row = rows.filter({ has: page.getByRole('rowheader', { name: line.day!, exact: true }) });
      expect(await row.locator('td').nth(userHeaders.indexOf(line.user!)).textContent()).toBe((line.input_tokens + line.output_tokens).toLocaleString('en-US'));
    }
    // Top users: the API's ranking.
    const topUsers = await api<{ data: UsageLine[] }>(`/admin/usage?from=${from}&to=${to}&group_by=user`);
    expect(await page.locator('#top-users tbody th').allTextContents()).toEqual(topUsers.data.map((l) => l.user));
  });

  it('filters and pages the request log', async () => {
    await signIn();
    await page.locator('#requests-table tbody tr').first().waitFor();
    expect(await page.locator('#requests-table tbody tr').count()).toBe(20);
    await page.getByLabel('User', { exact: true }).fill('ronan');
    await page.getByLabel('Status').fill('200');
    await page.getByRole('button', { name: 'Filter' }).click();
    const expected = await api<{ data: { id: string }[]; next: string | null }>('/admin/requests?user=ronan&status=200&limit=20');
    await expect.poll(() => page.locator('#requests-table tbody tr td:last-child').allTextContents()).toEqual(expected.data.map((r) => r.id));
    expect(new Set(await page.locator('#requests-table tbody tr td:nth-child(2)').allTextContents())).toEqual(new Set(['ronan']));

    // Page 2 continues where page 1 ended; Newer comes back.
    await page.getByLabel('User', { exact: true }).fill('');
    await page.getByLabel('Status').fill('');
    await page.getByLabel('Provider', { exact: true }).fill('groq');
    await page.getByRole('button', { name: 'Filter' }).click();
    const first = await api<{ data: { id: string }[]; next: string }>('/admin/requests?provider=groq&limit=20');
    const second = await api<{ data: { id: string }[] }>(`/admin/requests?provider=groq&limit=20&cursor=${first.next}`);
    await expect.poll(() => page.locator('#requests-table tbody tr td:last-child').allTextContents()).toEqual(first.data.map((r) => r.id));
    await page.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => page.locator('#requests-table tbody tr td:last-child').allTextContents()).toEqual(second.data.map((r) => r.id));
    await page.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => page.locator('#requests-table tbody tr td:last-child').allTextContents()).toEqual(first.data.map((r) => r.id));
  });

  it('shows provider key health from /healthz', async () => {
    await signIn();
    await page.locator('#health-table tbody tr').first().waitFor();
    const health = await api<{ providers: Record<string, { usable: number }> }>('/healthz');
    for (const [id, p] of Object.entries(health.providers)) {
      const row = page.locator('#health-table tbody tr').filter({ has: page.getByRole('rowheader', { name: id, exact: true }) });
      expect(await row.locator('td').nth(1).textContent()).toBe(String(p.usable));
    }
    expect(await page.locator('#health-status').textContent()).toBe('Gateway status: ok');
  });

  it('labels every control, fits 375 px; screenshots: light and dark, desktop and narrow', async () => {
    await signIn();
    await page.locator('#health-table tbody tr').first().waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    // The users table, Actions column included, fits 1 280 px; at 375 px it scrolls inside its card, never the page.
    const usersScroll = () =>
      page.evaluate(() => {
        const box = document.querySelector('#users-table')!.parentElement!;
        return {
          overflow: box.scrollWidth - box.clientWidth,
          actionsRight: box.querySelector('tbody tr td:last-child')!.getBoundingClientRect().right - box.getBoundingClientRect().right,
        };
      });
    await page.setViewportSize(VIEWPORTS.desktop);
    await expect.poll(usersScroll).toEqual({ overflow: 0, actionsRight: expect.any(Number) });
    expect((await usersScroll()).actionsRight).toBeLessThanOrEqual(0);
    await page.setViewportSize(VIEWPORTS.narrow);
    // The chart follows the width of its box.
    await expect.poll(() => horizontalOverflow(page)).toBe(0);
    expect((await usersScroll()).overflow).toBeGreaterThan(0);
    await page.setViewportSize(VIEWPORTS.desktop);
    expect(await screenshotsOf(page, 'admin')).toHaveLength(4);
  });
});
