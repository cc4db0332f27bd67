import { describe, expect, it } from 'vitest';
import { Watchdog } from './watchdog';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Watchdog', () => {
  it('expires at the limit last set: moved later, it waits on; moved earlier, it fires sooner', async () => {
    const fired: number[] = [];
    const start = Date.now();
    const later = new Watchdog(() => fired.push(Date.now() - start));
    later.expireAt(start + 20);
    later.expireAt(start + 80);
    await sleep(50);
    expect(fired).toEqual([]);
    await sleep(60);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(80);

    const earlier: number[] = [];
    const at = Date.now();
    const soon = new Watchdog(() => earlier.push(Date.now() - at));
    soon.expireAt(at + 10_000);
    soon.expireAt(at + 20);
    await sleep(60);
    expect(earlier).toHaveLength(1);
    expect(earlier[0]).toBeLessThan(1_000);
  });

  it('never fires once stopped, and can be set again after', async () => {
    let fired = 0;
    const watchdog = new Watchdog(() => fired++);
    watchdog.expireAt(Date.now() + 10);
    watchdog.stop();
    await sleep(40);
    expect(fired).toBe(0);
    watchdog.expireAt(Date.now() + 10);
    await sleep(40);
    expect(fired).toBe(1);
  });
});
