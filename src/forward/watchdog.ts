/**
 * One timer for an attempt's successive time limits (first byte, then silence, within the request's
 * deadline). Moving the limit later costs no timer call: the timer, firing before the limit, sleeps on
 * for the rest. In workerd a setTimeout/clearTimeout pair costs about as much as reading a small answer
 * (bench/profile.ts), and most attempts move their limit once and end long before it.
 */
export class Watchdog {
  private dueAt = Number.POSITIVE_INFINITY;
  private firesAt = Number.POSITIVE_INFINITY;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly onExpired: () => void) {}

  /** Expire at `time` (ms since the epoch) unless set again or stopped before. */
  expireAt(time: number): void {
    this.dueAt = time;
    if (time >= this.firesAt) return;
    clearTimeout(this.timer);
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = this.firesAt = Number.POSITIVE_INFINITY;
  }

  private schedule() {
    this.firesAt = this.dueAt;
    this.timer = setTimeout(() => this.fire(), Math.max(0, this.dueAt - Date.now()));
  }

  private fire() {
    this.timer = undefined;
    if (Date.now() >= this.dueAt) {
      this.firesAt = Number.POSITIVE_INFINITY;
      this.onExpired();
    } else this.schedule();
  }
}
