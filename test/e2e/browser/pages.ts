import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { run } from '../harness/run';

// What the page tests do to a page besides clicking: check labels and width, take screenshots.

export const SCREENSHOT_DIR = join(PROJECT_ROOT, 'test-results/screenshots');

export const VIEWPORTS = { desktop: { width: 1280, height: 900 }, narrow: { width: 375, height: 812 } } as const;

/** Every visible control without an accessible name (label, aria-label, aria-labelledby or button text). */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('input, select, textarea, button')]
      .filter((control) => control.getClientRects().length > 0)
      .filter((control) => {
        const labels = (control as HTMLInputElement).labels;
        const byLabel = labels
          ? [...labels]
              .map((label) => label.textContent ?? '')
              .join('')
              .trim()
          : '';
        const labelledBy = (control.getAttribute('aria-labelledby') ?? '')
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join('')
          .trim();
        const own = control.getAttribute('aria-label') ?? (control.tagName === 'BUTTON' ? (control.textContent ?? '') : '');
        return !(byLabel || labelledBy || own.trim());
      })
      .map((control) => control.outerHTML.slice(0, 160)),
  );
}

/** How far the page is wider than the window (0 when nothing needs sideways scrolling). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Set the theme with the page's own toggle button (which remembers the choice). */
export async function useTheme(page: Page, theme: 'light' | 'dark') {
  const toggle = page.getByRole('button', { name: 'Dark theme' });
  const pressed = String(theme === 'dark');
  if ((await toggle.getAttribute('aria-pressed')) !== pressed) await toggle.click();
  await page.waitForFunction(
    (wanted) => (document.documentElement.dataset.theme ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === wanted,
    theme,
  );
  expect(await toggle.getAttribute('aria-pressed')).toBe(pressed);
}

/** Full-page screenshots of the page as it is, in both themes at desktop and narrow width. */
export async function screenshotsOf(page: Page, name: string): Promise<string[]> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const files: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    await useTheme(page, theme);
    for (const [width, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      // From the top: a sticky toolbar would otherwise be drawn where the last scroll left it.
      await page.evaluate(() => window.scrollTo(0, 0));
      const file = join(SCREENSHOT_DIR, `${name}-${theme}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
      files.push(file);
    }
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  return files;
}

/** Build the pages from the current sources: `wrangler dev` serves pages-build/ as it is. */
export async function buildPages() {
  const result = await run(process.execPath, ['scripts/build-pages.mjs', '--quiet'], { cwd: PROJECT_ROOT });
  if (result.code !== 0) throw new Error(`build-pages failed:\n${result.stdout}\n${result.stderr}`);
}
