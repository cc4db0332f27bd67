import { describe, expect, it } from 'vitest';
import { outputLog } from './harness/output';

const READY = /Ready on (http:\/\/127\.0\.0\.1:\d+)/;

/** READY, counting the characters each search is given. */
class CountingPattern extends RegExp {
  searched = 0;
  override exec(text: string) {
    this.searched += text.length;
    return super.exec(text);
  }
}

describe('the e2e harness output log', () => {
  it('finds a line split across chunks, and one printed before the watch began', async () => {
    const log = outputLog();
    log.add('starting\n[wrangler] Rea');
    const split = log.firstMatch(READY);
    log.add('dy on http://127.0.0.1:8787\n');
    expect((await split)[1]).toBe('http://127.0.0.1:8787');
    expect((await log.firstMatch(READY))[1]).toBe('http://127.0.0.1:8787');
    log.add('later\n');
    expect(log.text()).toBe('starting\n[wrangler] Ready on http://127.0.0.1:8787\nlater\n');
  });

  it('looks at each chunk once, however long the output grows', async () => {
    const log = outputLog();
    const pattern = new CountingPattern(READY.source);
    const ready = log.firstMatch(pattern);
    const line = `${'x'.repeat(99)}\n`;
    for (let i = 0; i < 2_000; i++) log.add(line);
    log.add('Ready on http://127.0.0.1:1\n');
    await ready;
    // Searching the whole output again on each chunk (as the harness once did) would be ~200 MB of text here.
    expect(pattern.searched).toBeLessThan(2 * log.text().length);
    for (let i = 0; i < 2_000; i++) log.add(line);
    expect(pattern.searched).toBeLessThan(2 * 2_001 * line.length);
  });
});
