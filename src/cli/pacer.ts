/**
 * The rhythm of a run loop on Node's event loop, shared by `xenkit run`
 * (run.ts) and several guests (multi-run.ts): one turn of the loop at a
 * time, each on its own event-loop turn (setImmediate), so SIGINT, console
 * input and sockets are served between slices; a timer while every vCPU
 * sleeps until a deadline; SIGINT noted and the loop woken at once.
 *
 * While the loop waits for a host event alone (a VXLAN datagram, console
 * input), nothing it waits on may keep Node alive (the sockets are
 * unref'd), so a pacer holds a long interval of its own until `stop`.
 */
import type { RunHost } from './run.js';

export class Pacer {
  /** SIGINT (or the console's escape key) arrived. */
  interrupted = false;
  private scheduled = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly keepAlive = setInterval(() => undefined, 1 << 30);
  private readonly off: () => void;

  /** `turn` runs once per scheduled turn; it calls `now` or `after` to ask for the next. */
  constructor(private readonly turn: () => void, onInterrupt: RunHost['onInterrupt']) {
    this.off = onInterrupt(() => { this.interrupted = true; this.now(); });
  }

  /** A turn as soon as the event loop allows (a pending timer is cancelled). Usable as a callback. */
  readonly now = (): void => {
    this.cancelTimer();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.turn();
    });
  };

  /** A turn after `ms` milliseconds, unless `now` comes first. */
  after(ms: number): void {
    this.cancelTimer();
    this.timer = setTimeout(() => { this.timer = null; this.now(); }, ms);
  }

  /** A turn is already asked for (a wake during this one). */
  get pending(): boolean {
    return this.scheduled;
  }

  /** No more turns: SIGINT handler, timer and keep-alive released. */
  stop(): void {
    this.stopped = true;
    this.off();
    this.cancelTimer();
    clearInterval(this.keepAlive);
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
