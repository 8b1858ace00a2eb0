/**
 * Layer 3 of the gdb stub: one debugging session, i.e. one gdb connection
 * (one object per connection, never a global).
 *
 * The session is the protocol's state machine over a `DebugTarget`:
 *
 *   attaching ──target stops──▶ stopped ──c/s/vCont──▶ running
 *       ▲                          ▲                      │
 *       │                          └──── target stops ────┘ (stop reply sent)
 *   new connection            Ctrl-C while running → target.interrupt()
 *                             D / k / connection lost → closed (target detached)
 *                             W / X sent → exited
 *
 * It answers every packet from the command table (commands.ts), formats
 * stop replies (GDB manual, "Stop Reply Packets": `T05swbreak:;`,
 * `T05watch:ADDR;`, `thread:`, key registers ebp/esp/eip; `W`/`X` when
 * the guest is gone), serves qXfer objects in pieces (`m`/`l` prefixes),
 * sends `monitor` output as `O` packets, and keeps the bookkeeping the
 * target should not have to: which breakpoints gdb inserted (so detaching
 * removes them, and a duplicate Z is answered without the target), the
 * selected threads (Hg/Hc), and range stepping for targets that can only
 * single-step.
 *
 * All-stop mode only: while the target runs, gdb sends nothing but Ctrl-C
 * (any other packet is still answered, from the target's current state).
 * A stop the target reports while no stop reply is owed (gdb believes the
 * target is already stopped) only updates the halt reason (`?`).
 */
import { Errno, parseCommand, type Command, type GdbFeature, type ThreadSel, type VContAction } from './commands.js';
import { assertNever } from './errors.js';
import { PacketLink, type LinkOptions } from './framing.js';
import { bytesToHex, hex8, hexNum, hexToBytes, latin1String, textToHex } from './hex.js';
import { runMonitor } from './monitor.js';
import {
  REGISTERS, Reg, Signal, registerSize, targetXml,
  type BreakpointKind, type DebugTarget, type RegValue, type ResumeAction, type StopReason, type ThreadId,
} from './target.js';

/** Where the session is in the protocol. */
export type SessionState =
  | 'attaching' // connected; waiting for the target's first stop
  | 'stopped'
  | 'running'   // a stop reply is owed to gdb
  | 'exited'    // W or X was sent: the guest is gone
  | 'closed';   // detached, killed or disconnected

/** The connection as the session sees it (the server passes the socket's). */
export interface SessionIO {
  /** Send bytes to gdb. */
  write(bytes: Uint8Array): void;
  /** End the connection (after `D` or `k`). */
  close(): void;
}

/** Session options (framing options included). */
export interface SessionOptions extends LinkOptions {
  /** A target method threw (a target bug): gdb got `E01`; this gets the error. */
  readonly onError?: (err: unknown) => void;
  /** Run `fn` on a later event-loop turn (default `setImmediate`): emulated range steps yield here. */
  readonly defer?: (fn: () => void) => void;
}

/** Emulated range steps run back to back at most this many times before yielding to the event loop. */
const RANGE_BATCH = 1000;

/** Largest `m` read served at once (gdb accepts short reads and asks again). */
const MAX_READ = 0x4000;

function isExit(r: StopReason): r is Extract<StopReason, { kind: 'exited' | 'terminated' }> {
  return r.kind === 'exited' || r.kind === 'terminated';
}

/** Little-endian hex of a register value, `xx…` when unavailable. */
export function encodeRegister(n: number, v: RegValue | undefined): string {
  const size = registerSize(n);
  if (v === undefined) return 'xx'.repeat(size);
  const bytes = new Uint8Array(size);
  if (typeof v === 'number') {
    const u = v >>> 0;
    for (let i = 0; i < Math.min(4, size); i++) bytes[i] = (u >>> (8 * i)) & 0xff;
  } else bytes.set(v.subarray(0, size));
  return bytesToHex(bytes);
}

/** A register value from its little-endian bytes: a number up to 32 bits, else the bytes. */
export function decodeRegister(bytes: Uint8Array): RegValue {
  if (bytes.length > 4) return bytes;
  let v = 0;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v * 256) + bytes[i]!;
  return v >>> 0;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Emulated range step in progress. */
interface RangeStep {
  readonly thread: ThreadId;
  readonly start: number;
  readonly end: number;
  /** The resume map used for each step (the thread steps, the others do what vCont said). */
  readonly actions: ReadonlyMap<ThreadId, ResumeAction>;
  /** A next step is queued with `defer`. */
  deferred: boolean;
}

/** One gdb connection driving one target. */
export class GdbSession {
  private readonly link: PacketLink;
  private readonly defer: (fn: () => void) => void;
  private st: SessionState = 'attaching';
  private lastStop: StopReason | null = null;
  /** gdb waits for a stop reply (after a resume, or a `?` before the first stop). */
  private replyOwed = false;
  private gdbFeatures: ReadonlyMap<string, GdbFeature> = new Map();
  private generalThread: ThreadSel = 0;
  private contThread: ThreadSel = -1;
  private readonly inserted = new Map<string, { kind: BreakpointKind; addr: number; length: number }>();
  private range: RangeStep | null = null;
  private inResume = false;
  private stepAgain = false;
  private interruptRequested = false;

  constructor(
    private readonly target: DebugTarget,
    private readonly io: SessionIO,
    private readonly opts: SessionOptions = {},
  ) {
    this.link = new PacketLink((b) => io.write(b), {
      packet: (p) => this.onPacket(p),
      interrupt: () => this.onInterrupt(),
    }, opts);
    this.defer = opts.defer ?? ((fn) => { setImmediate(fn); });
    // Last: the target may report its first stop synchronously.
    this.guard(() => target.attach({ stopped: (r) => this.onStop(r) }));
  }

  /** Where the session is. */
  get state(): SessionState {
    return this.st;
  }

  /** Framing counters (packets, malformed, garbage bytes, retransmits). */
  get stats(): PacketLink['stats'] {
    return this.link.stats;
  }

  /** The breakpoints and watchpoints gdb has inserted, as `kind@addr/len` keys. */
  get breakpoints(): readonly string[] {
    return [...this.inserted.keys()];
  }

  /** Bytes from gdb. */
  receive(chunk: Uint8Array): void {
    if (this.st === 'closed') return;
    this.link.receive(chunk);
  }

  /** The connection is gone (gdb quit or died): remove our breakpoints, let the guest run. */
  disconnect(): void {
    this.end(() => this.target.detach());
  }

  /* ---------------------------------------------------------------- */

  private end(how: () => void): void {
    if (this.st === 'closed') return;
    this.st = 'closed';
    this.range = null;
    this.link.close();
    for (const b of this.inserted.values()) this.guard(() => this.target.removeBreakpoint(b.kind, b.addr, b.length));
    this.inserted.clear();
    this.guard(how);
  }

  /** Run a target call; a throw is a target bug, reported and turned into `undefined`. */
  private guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.opts.onError?.(e);
      return undefined;
    }
  }

  private send(payload: string): void {
    this.link.send(payload);
  }

  private error(errno: number): void {
    this.send(`E${hex8(errno)}`);
  }

  private onPacket(bytes: Uint8Array): void {
    if (this.st === 'closed') return;
    const cmd = parseCommand(latin1String(bytes));
    try {
      this.handle(cmd);
    } catch (e) {
      this.opts.onError?.(e);
      this.error(Errno.EPERM);
    }
  }

  private onInterrupt(): void {
    if (this.st !== 'running') return; // nothing to interrupt (or the stop reply is already on its way)
    this.interruptRequested = true;
    const r = this.range;
    if (r !== null && r.deferred) {
      // Between two emulated steps nothing runs: stop right here.
      this.range = null;
      this.finishStop({ kind: 'interrupt', thread: r.thread });
      return;
    }
    this.guard(() => this.target.interrupt());
  }

  /** The target's stop listener. */
  private onStop(reason: StopReason): void {
    if (this.st === 'closed' || this.st === 'exited') return;
    const r = this.range;
    if (r !== null) {
      if (reason.kind === 'step' && reason.thread === r.thread && !this.interruptRequested && this.st === 'running') {
        const eip = this.eipOf(r.thread);
        if (eip !== null && eip >= r.start && eip < r.end) {
          // A breakpoint inside the range stops it, as a native range step would.
          const bp = this.breakpointAt(eip);
          if (bp === null) {
            if (this.inResume) this.stepAgain = true;
            else this.stepRange();
            return;
          }
          reason = { kind: 'breakpoint', thread: r.thread, type: bp };
        }
      }
      this.range = null;
      if (reason.kind === 'step' && this.interruptRequested) reason = { kind: 'interrupt', thread: reason.thread };
    }
    this.finishStop(reason);
  }

  private finishStop(reason: StopReason): void {
    this.interruptRequested = false;
    this.lastStop = reason;
    if (!isExit(reason)) {
      // gdb switches to the thread that stopped; so do we (as gdbserver does).
      this.generalThread = reason.thread;
    }
    this.st = isExit(reason) ? 'exited' : 'stopped';
    if (this.replyOwed) {
      this.replyOwed = false;
      if (reason.message !== undefined && reason.message !== '') this.console(reason.message);
      this.send(this.stopReply(reason));
    }
  }

  /** Text for gdb's console, as `O` packets (only while gdb waits for a reply). */
  private console(text: string): void {
    const hex = textToHex(text);
    const chunk = Math.max(64, (this.link.maxPacket - 8) & ~1);
    for (let i = 0; i < hex.length; i += chunk) this.send(`O${hex.slice(i, i + chunk)}`);
  }

  private eipOf(thread: ThreadId): number | null {
    const v = this.guard(() => this.target.readRegisters(thread)[Reg.EIP]);
    if (v === undefined) return null;
    return typeof v === 'number' ? v >>> 0 : (decodeRegister(v.subarray(0, 4)) as number);
  }

  /** The stop reply for a reason (GDB manual, "Stop Reply Packets"). */
  private stopReply(r: StopReason): string {
    switch (r.kind) {
      case 'exited': return `W${hex8(r.code & 0xff)}`;
      case 'terminated': return `X${hex8(r.signal & 0xff)}`;
      case 'breakpoint': case 'watch': case 'step': case 'interrupt': case 'signal': break;
      default: return assertNever(r);
    }
    let sig: number;
    let why = '';
    const caps = this.target.capabilities;
    switch (r.kind) {
      case 'breakpoint':
        sig = Signal.TRAP;
        if (r.type === 'sw' && caps.swBreakpoints && this.gdbFeatures.get('swbreak') === true) why = 'swbreak:;';
        if (r.type === 'hw' && caps.hwBreakpoints && this.gdbFeatures.get('hwbreak') === true) why = 'hwbreak:;';
        break;
      case 'watch':
        sig = Signal.TRAP;
        why = `${r.access === 'write' ? 'watch' : r.access === 'read' ? 'rwatch' : 'awatch'}:${hexNum(r.addr)};`;
        break;
      case 'step': sig = Signal.TRAP; break;
      case 'interrupt': sig = Signal.INT; break;
      case 'signal': sig = r.signal & 0xff; break;
      default: return assertNever(r);
    }
    let regs = '';
    const values = this.guard(() => this.target.readRegisters(r.thread));
    if (values !== undefined) {
      for (const n of [Reg.EBP, Reg.ESP, Reg.EIP]) {
        const v = values[n];
        if (v !== undefined) regs += `${hex8(n)}:${encodeRegister(n, v)};`;
      }
    }
    return `T${hex8(sig)}${why}thread:${hexNum(r.thread)};${regs}`;
  }

  /* ---------------------------------------------------------------- */
  /* Threads                                                          */
  /* ---------------------------------------------------------------- */

  private threadIds(): ThreadId[] {
    return this.target.threads().map((t) => t.id);
  }

  private exists(t: ThreadSel): boolean {
    return t === 0 || t === -1 || this.threadIds().includes(t);
  }

  /** The thread registers and memory are read from (Hg; 0/-1 → the last stopped thread, else the first). */
  private current(): ThreadId {
    const ids = this.threadIds();
    if (this.generalThread > 0 && ids.includes(this.generalThread)) return this.generalThread;
    const last = this.lastStop;
    if (last !== null && !isExit(last) && ids.includes(last.thread)) return last.thread;
    return ids[0] ?? 1;
  }

  /* ---------------------------------------------------------------- */
  /* Packets                                                          */
  /* ---------------------------------------------------------------- */

  private handle(cmd: Command): void {
    const t = this.target;
    switch (cmd.kind) {
      case 'unsupported': this.send(''); return;
      case 'invalid': this.error(cmd.errno); return;
      case 'supported': this.supported(cmd.features); return;
      case 'startNoAck':
        this.send('OK');
        this.link.noAck = true; // after the OK: gdb acknowledges it, then neither side acks
        return;
      case 'haltReason':
        if ((this.st === 'stopped' || this.st === 'exited') && this.lastStop !== null) this.send(this.stopReply(this.lastStop));
        else this.replyOwed = true; // answered by the first stop
        return;
      case 'readRegisters': {
        const v = t.readRegisters(this.current());
        this.send(REGISTERS.map((_, n) => encodeRegister(n, v[n])).join(''));
        return;
      }
      case 'writeRegisters': this.writeRegisters(cmd.hex); return;
      case 'readRegister': {
        if (cmd.reg >= REGISTERS.length) { this.error(Errno.EINVAL); return; }
        this.send(encodeRegister(cmd.reg, t.readRegisters(this.current())[cmd.reg]));
        return;
      }
      case 'writeRegister': {
        if (cmd.reg >= REGISTERS.length || cmd.bytes.length !== registerSize(cmd.reg)) { this.error(Errno.EINVAL); return; }
        this.reply(t.writeRegister(this.current(), cmd.reg, decodeRegister(cmd.bytes)), Errno.EPERM);
        return;
      }
      case 'readMemory': {
        const length = Math.min(cmd.length, MAX_READ, 0x1_0000_0000 - cmd.addr);
        if (length === 0) { this.error(Errno.EINVAL); return; }
        const data = t.readMemory(this.current(), cmd.addr, length);
        if (data === null || data.length === 0) this.error(Errno.EFAULT);
        else this.send(bytesToHex(data.length > length ? data.subarray(0, length) : data));
        return;
      }
      case 'writeMemory':
        if (cmd.data.length === 0) { this.send('OK'); return; } // `X addr,0:` probes for X support
        if (cmd.addr + cmd.data.length > 0x1_0000_0000) { this.error(Errno.EFAULT); return; }
        this.reply(t.writeMemory(this.current(), cmd.addr, cmd.data), Errno.EFAULT);
        return;
      case 'continue':
      case 'step': {
        // Legacy resume: `c` runs every thread, `s` steps the Hc thread only.
        const thread = this.contThread > 0 ? this.contThread : this.current();
        const action: ResumeAction = cmd.signal === undefined ? { kind: cmd.kind } : { kind: cmd.kind, signal: cmd.signal };
        const actions = new Map<ThreadId, ResumeAction>();
        if (cmd.kind === 'step') actions.set(thread, action);
        else for (const id of this.threadIds()) actions.set(id, action);
        if (cmd.addr !== undefined && !t.writeRegister(thread, Reg.EIP, cmd.addr)) { this.error(Errno.EPERM); return; }
        this.resume(actions, null);
        return;
      }
      case 'vContQuery': this.send('vCont;c;C;s;S;r'); return;
      case 'vCont': this.vCont(cmd.actions); return;
      case 'insertBreakpoint': this.insert(cmd.type, cmd.addr, cmd.length); return;
      case 'removeBreakpoint': this.remove(cmd.type, cmd.addr, cmd.length); return;
      case 'setThread':
        if (!this.exists(cmd.thread)) { this.error(Errno.ESRCH); return; }
        if (cmd.op === 'g') this.generalThread = cmd.thread;
        else this.contThread = cmd.thread;
        this.send('OK');
        return;
      case 'threadAlive': this.reply(cmd.thread > 0 && this.exists(cmd.thread), Errno.ESRCH); return;
      case 'threadInfoFirst': this.send(`m${this.threadIds().map(hexNum).join(',')}`); return;
      case 'threadInfoNext': this.send('l'); return;
      case 'currentThread': this.send(`QC${hexNum(this.current())}`); return;
      case 'threadExtraInfo': {
        const i = this.threadIds().indexOf(cmd.thread);
        if (i < 0) { this.error(Errno.ESRCH); return; }
        this.send(textToHex(`vCPU ${i}`));
        return;
      }
      case 'attached': this.send('1'); return;
      case 'offsets': this.send('Text=0;Data=0;Bss=0'); return;
      case 'symbol': this.send('OK'); return;
      case 'xferRead': this.xfer(cmd.object, cmd.annex, cmd.offset, cmd.length); return;
      case 'monitor':
        this.console(runMonitor(cmd.command, t.monitor ?? {}, this.current()));
        this.send('OK');
        return;
      case 'detach':
        this.send('OK');
        this.end(() => t.detach());
        this.io.close();
        return;
      case 'kill':
        // No reply: gdb does not wait for one (GDB manual, "Packets": `k`).
        this.end(() => (t.kill !== undefined ? t.kill() : t.detach()));
        this.io.close();
        return;
      default: assertNever(cmd);
    }
  }

  private reply(ok: boolean, errno: number): void {
    if (ok) this.send('OK');
    else this.error(errno);
  }

  private supported(features: ReadonlyMap<string, GdbFeature>): void {
    this.gdbFeatures = features;
    const caps = this.target.capabilities;
    const out = [
      `PacketSize=${hexNum(this.link.maxPacket)}`,
      'qXfer:features:read+',
      'qXfer:threads:read+',
      'QStartNoAckMode+',
      'vContSupported+',
    ];
    if (caps.swBreakpoints) out.push('swbreak+');
    if (caps.hwBreakpoints) out.push('hwbreak+');
    this.send(out.join(';'));
  }

  private writeRegisters(hex: string): void {
    const thread = this.current();
    const current = this.target.readRegisters(thread);
    let pos = 0;
    for (let n = 0; n < REGISTERS.length && pos < hex.length; n++) {
      const w = registerSize(n) * 2;
      const chunk = hex.slice(pos, pos + w);
      pos += w;
      if (chunk.length < w) { this.error(Errno.EINVAL); return; }
      if (chunk.includes('x')) continue; // left alone
      if (chunk.toLowerCase() === encodeRegister(n, current[n])) continue; // unchanged (cpl and friends are read-only)
      if (!this.target.writeRegister(thread, n, decodeRegister(hexToBytes(chunk)!))) { this.error(Errno.EPERM); return; }
    }
    this.send('OK');
  }

  /* ---------------------------------------------------------------- */
  /* Resuming                                                         */
  /* ---------------------------------------------------------------- */

  private vCont(actions: readonly VContAction[]): void {
    // Each thread takes the leftmost action that names it (or names no thread).
    const map = new Map<ThreadId, ResumeAction>();
    const current = this.current();
    let range: { thread: ThreadId; start: number; end: number } | null = null;
    const native = this.target.capabilities.rangeStepping === true;
    for (const id of this.threadIds()) {
      const a = actions.find((x) => x.thread === undefined || x.thread === id || (x.thread === 0 && id === current));
      if (a === undefined) continue;
      switch (a.op) {
        case 'continue':
        case 'step': {
          const kind = a.op;
          map.set(id, a.signal === undefined ? { kind } : { kind, signal: a.signal });
          break;
        }
        case 'range':
          if (native) map.set(id, { kind: 'range', start: a.start, end: a.end });
          else {
            if (range !== null) { this.error(Errno.EINVAL); return; } // one emulated range at a time
            range = { thread: id, start: a.start, end: a.end };
            map.set(id, { kind: 'step' });
          }
          break;
        default: assertNever(a);
      }
    }
    if (map.size === 0) { this.error(Errno.ESRCH); return; }
    this.resume(map, range);
  }

  private resume(actions: ReadonlyMap<ThreadId, ResumeAction>, range: { thread: ThreadId; start: number; end: number } | null): void {
    if (this.st !== 'stopped') { this.error(Errno.EPERM); return; }
    this.st = 'running';
    this.replyOwed = true;
    this.interruptRequested = false;
    if (range !== null) {
      this.range = { ...range, actions, deferred: false };
      this.stepRange();
      return;
    }
    try {
      this.target.resume(actions);
    } catch (e) {
      this.opts.onError?.(e);
      if (this.st === 'running') {
        this.st = 'stopped';
        this.replyOwed = false;
        this.error(Errno.EPERM);
      }
    }
  }

  /** Take emulated range steps: back to back while the target stops synchronously, yielding every RANGE_BATCH. */
  private stepRange(): void {
    for (let n = 0; n < RANGE_BATCH; n++) {
      const r = this.range;
      if (r === null || this.st !== 'running') return;
      r.deferred = false;
      this.stepAgain = false;
      this.inResume = true;
      try {
        this.target.resume(r.actions);
      } catch (e) {
        this.opts.onError?.(e);
        this.range = null;
        this.finishStop({ kind: 'signal', thread: r.thread, signal: Signal.TRAP });
        return;
      } finally {
        this.inResume = false;
      }
      if (!this.stepAgain) return; // the stop came (and ended the range) or will come later
    }
    const r = this.range;
    if (r === null) return;
    r.deferred = true;
    this.defer(() => {
      if (this.range === r && r.deferred) this.stepRange();
    });
  }

  /* ---------------------------------------------------------------- */
  /* Breakpoints                                                      */
  /* ---------------------------------------------------------------- */

  /** The kind of an inserted breakpoint at `addr` (software first), or null. */
  private breakpointAt(addr: number): 'sw' | 'hw' | null {
    let found: 'sw' | 'hw' | null = null;
    for (const b of this.inserted.values()) {
      if (b.addr !== addr) continue;
      if (b.kind === 'sw') return 'sw';
      if (b.kind === 'hw') found = 'hw';
    }
    return found;
  }

  private zSupported(kind: BreakpointKind): boolean {
    const c = this.target.capabilities;
    return kind === 'sw' ? c.swBreakpoints : kind === 'hw' ? c.hwBreakpoints : c.watchpoints;
  }

  private insert(kind: BreakpointKind, addr: number, length: number): void {
    if (!this.zSupported(kind)) { this.send(''); return; }
    const key = `${kind}@${hexNum(addr)}/${length}`;
    if (this.inserted.has(key)) { this.send('OK'); return; } // gdb may insert again (e.g. new conditions)
    if (!this.target.addBreakpoint(kind, addr, length)) { this.error(Errno.EPERM); return; }
    this.inserted.set(key, { kind, addr, length });
    this.send('OK');
  }

  private remove(kind: BreakpointKind, addr: number, length: number): void {
    if (!this.zSupported(kind)) { this.send(''); return; }
    const key = `${kind}@${hexNum(addr)}/${length}`;
    if (!this.inserted.has(key)) { this.send('OK'); return; } // already gone
    this.inserted.delete(key);
    this.reply(this.target.removeBreakpoint(kind, addr, length), Errno.EPERM);
  }

  /* ---------------------------------------------------------------- */
  /* qXfer                                                            */
  /* ---------------------------------------------------------------- */

  private xfer(object: string, annex: string, offset: number, length: number): void {
    let doc: string;
    if (object === 'features') {
      if (annex !== 'target.xml') { this.send('E00'); return; }
      doc = targetXml();
    } else if (object === 'threads') {
      if (annex !== '') { this.send('E00'); return; }
      doc = this.threadsXml();
    } else {
      this.send('');
      return;
    }
    const bytes = new TextEncoder().encode(doc);
    if (offset >= bytes.length) { this.send('l'); return; }
    const end = Math.min(bytes.length, offset + Math.min(length, this.link.maxPacket));
    this.send((end < bytes.length ? 'm' : 'l') + latin1String(bytes.subarray(offset, end)));
  }

  private threadsXml(): string {
    const rows = this.target.threads().map((th, i) => {
      const name = th.name === undefined ? '' : ` name="${xmlEscape(th.name)}"`;
      return `<thread id="${hexNum(th.id)}" core="${i}"${name}>vCPU ${i}</thread>\n`;
    });
    return `<?xml version="1.0"?>\n<threads>\n${rows.join('')}</threads>\n`;
  }
}
