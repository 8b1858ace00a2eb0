/**
 * The xenbus backend state machine (reference §6; io/xenbus.h; the
 * blkif.h state diagram; Linux's xen-blkback/xenbus.c `frontend_changed`):
 * the one implementation every in-VMM PV backend (vbd, vif) drives its
 * handshake with. The device supplies hooks; this file owns the states.
 *
 *   start          publish features → state InitWait (2); watch <frontend>/state
 *   frontend 3|4   (Initialised or Connected: "ring published") while we are
 *                  InitWait or Closed → hooks.connect reads ring-ref,
 *                  event-channel, protocol, maps and binds →
 *                    ok:     state Connected (4), hooks.connected()
 *                    failed: hooks.disconnect(), <backend>/error, Closing (5)
 *   frontend 5     disconnect → Closing (5)
 *   frontend 6     disconnect → Closed (6)
 *   frontend 1     (Initialising) while Closed, Closing or Connected: the
 *                  frontend starts over (Mini-OS after its teardown) →
 *                  disconnect, drop <backend>/error, publish again → InitWait
 *   frontend 0 / missing (the frontend directory went away) → disconnect,
 *                  Closed
 *   frontend 2, 7, 8  nothing
 *   anything else (not a XenbusState) → fail: Closing with an error node
 *   fail(reason)   the device found the frontend hostile (corrupt ring) →
 *                  disconnect, <backend>/error = reason, Closing (5)
 *
 * Rules kept:
 *  - Watches are edge hints only: on every event the *current* frontend
 *    state is read and acted on, so a missed intermediate value (3 then 4
 *    between two polls) does no harm, and a repeated one is idempotent
 *    ("Ensure we connect even when two watches fire in close succession").
 *  - After a failure the backend stays Closing while the frontend still
 *    says Connected: it must start over through Initialising, so a hostile
 *    ring cannot make us reconnect in a loop.
 *  - Everything read from the frontend directory is guest-controlled:
 *    parsed strictly by the hooks; a read that fails is "absent".
 *  - The machine is driven synchronously by `poll()` (from the Machine's
 *    device poll, after the xenstore ring has been served), never from
 *    inside the xenstore server, so no callback re-enters it.
 *
 * Each backend has its own dom0 XsClient connection: its watch events are
 * its own to drain.
 */
import { XenbusState, xenbusStateName } from '../xen/abi/xenbus.js';
import { XsClient, XsError, type XenstoreServer } from './xenstore/index.js';

/** What a device's hooks see of its two xenstore directories. */
export interface XenbusContext {
  readonly backendPath: string;
  readonly frontendPath: string;
  readonly frontendDomid: number;
  /** A frontend node (key relative to its directory); undefined if absent or unreadable. Guest-controlled. */
  front(key: string): string | undefined;
  /** Write a backend node (key relative to its directory). */
  publish(key: string, value: string): void;
}

/** Device-specific hooks of a backend. */
export interface XenbusDeviceHooks {
  /** Write what the frontend reads before it connects (features, properties). Runs before every InitWait. */
  publish(ctx: XenbusContext): void;
  /**
   * The frontend published its ring: read ring-ref / event-channel /
   * protocol, map the ring, bind the channel. Returns null on success or
   * the reason it failed (it becomes the error node).
   */
  connect(ctx: XenbusContext): string | null;
  /** Stop using the frontend's ring and channel; must be idempotent. */
  disconnect(): void;
  /** Runs once the backend state is Connected (e.g. serve requests already queued). */
  connected?(): void;
}

/** A VMM configuration error (the toolstack did not create the device): a host error, thrown. */
export class XenbusBackendError extends Error {
  readonly code = 'EXENBUS';
}

const S = XenbusState;

/** The handshake of one backend device directory. */
export class XenbusBackend {
  readonly frontendPath: string;
  readonly frontendDomid: number;
  /** The state we last wrote to <backend>/state (Initialising until `start`). */
  state: number = S.Initialising;
  /** Last frontend state seen (undefined: absent or not a number). */
  frontendState: number | undefined;
  /** Why the last connect or the device failed, while it stands. */
  error: string | null = null;
  private readonly xs: XsClient;
  private readonly ctx: XenbusContext;
  private readonly token: string;
  private started = false;
  private closed = false;

  constructor(
    server: XenstoreServer,
    readonly backendPath: string,
    private readonly hooks: XenbusDeviceHooks,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.xs = new XsClient(server, 0);
    const frontend = this.xs.tryRead(`${backendPath}/frontend`);
    const fid = this.xs.tryRead(`${backendPath}/frontend-id`);
    if (frontend === undefined || fid === undefined || !/^[0-9]+$/.test(fid)) {
      this.xs.close();
      throw new XenbusBackendError(`${backendPath}: no frontend/frontend-id nodes (was the device added to xenstore?)`);
    }
    this.frontendPath = frontend;
    this.frontendDomid = Number(fid);
    this.token = `backend:${backendPath}`;
    const xs = this.xs;
    this.ctx = {
      backendPath,
      frontendPath: frontend,
      frontendDomid: this.frontendDomid,
      front: (key) => {
        try {
          return xs.tryRead(`${frontend}/${key}`);
        } catch (e) {
          if (e instanceof XsError) return undefined;
          throw e;
        }
      },
      publish: (key, value) => xs.write(`${backendPath}/${key}`, value),
    };
  }

  /** "Connected, frontend Connected" (and the error a failure left), for `monitor devices`. */
  describe(): string {
    const name = (st: number | undefined): string => (st === undefined ? 'unknown' : xenbusStateName(st) ?? `state ${st}`);
    // The frontend's node as it is now (frontendState is what the backend last acted on).
    const raw = this.closed ? undefined : this.ctx.front('state');
    const front = raw !== undefined && /^[0-9]{1,9}$/.test(raw) ? Number(raw) : this.frontendState;
    return `${name(this.state)}, frontend ${name(front)}${this.error !== null ? `; error: ${this.error}` : ''}`;
  }

  /** Publish the device, go to InitWait and start watching the frontend. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.hooks.publish(this.ctx);
    this.setState(S.InitWait);
    // The watch fires once at once: the first poll looks at the frontend.
    this.xs.watch(`${this.frontendPath}/state`, this.token);
  }

  /** Act on queued watch events. Returns true if the backend state changed. */
  poll(): boolean {
    if (!this.started || this.closed) return false;
    if (this.xs.events().length === 0) return false;
    const before = this.state;
    this.frontendChanged();
    return this.state !== before;
  }

  /** The device found the frontend broken (corrupt ring…): disconnect, error node, Closing. */
  fail(reason: string): void {
    if (this.closed) return;
    this.log(`${this.backendPath}: ${reason}`);
    this.hooks.disconnect();
    this.error = reason;
    try {
      this.xs.write(`${this.backendPath}/error`, reason);
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
    }
    this.setState(S.Closing);
  }

  /** Tear down for good (VMM shutdown): disconnect, Closed, stop watching. */
  close(): void {
    if (this.closed) return;
    this.hooks.disconnect();
    if (this.started) this.setState(S.Closed);
    this.closed = true;
    this.xs.close();
  }

  /** Read the frontend's state now and move the backend accordingly. */
  private frontendChanged(): void {
    const raw = this.ctx.front('state');
    const f = raw === undefined ? S.Unknown : /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
    this.frontendState = Number.isNaN(f) ? undefined : f;
    const b = this.state;
    switch (f) {
      case S.Unknown:
        if (b !== S.Closed) {
          this.hooks.disconnect();
          this.setState(S.Closed);
        }
        return;
      case S.Initialising:
        if (b === S.Closed || b === S.Closing || b === S.Connected) this.restart();
        return;
      case S.Initialised:
      case S.Connected:
        if (b === S.InitWait) this.connect();
        else if (b === S.Closed) {
          this.restart();
          this.connect();
        }
        return;
      case S.Closing:
        if (b !== S.Closing && b !== S.Closed) {
          this.hooks.disconnect();
          this.setState(S.Closing);
        }
        return;
      case S.Closed:
        if (b !== S.Closed) {
          this.hooks.disconnect();
          this.setState(S.Closed);
        }
        return;
      case S.InitWait:
      case S.Reconfiguring:
      case S.Reconfigured:
        return;
      default:
        if (b !== S.Closing) this.fail(`frontend state ${JSON.stringify(raw)} is not a XenbusState`);
    }
  }

  /** Back to InitWait for a fresh handshake. */
  private restart(): void {
    this.hooks.disconnect();
    if (this.error !== null) {
      this.error = null;
      try {
        this.xs.rm(`${this.backendPath}/error`);
      } catch (e) {
        if (!(e instanceof XsError)) throw e;
      }
    }
    this.log(`${this.backendPath}: frontend restarted, prepare for reconnect`);
    this.hooks.publish(this.ctx);
    this.setState(S.InitWait);
  }

  private connect(): void {
    const err = this.hooks.connect(this.ctx);
    if (err !== null) {
      this.fail(err);
      return;
    }
    this.setState(S.Connected);
    this.hooks.connected?.();
  }

  private setState(s: number): void {
    this.state = s;
    this.xs.write(`${this.backendPath}/state`, String(s));
  }
}
