/**
 * Layer 2 of the gdb stub: the command table. Each packet the stub knows
 * has one entry with a pure parser from the payload to a typed `Command`
 * (or an `invalid` value that the session answers with `E..`); packets the
 * table does not know parse to `unsupported`, answered with an empty reply,
 * which is how the protocol says "not supported" (GDB manual, "Remote
 * Protocol › Overview": "For any command not supported by the stub, an
 * empty response (‘$#00’) should be returned").
 *
 * Spec: GDB manual, Appendix E: "Packets", "General Query Packets",
 * "Stop Reply Packets" (for vCont thread ids) and "Host I/O"-free subset.
 * Shaped after QEMU's gdbstub.c command tables with parameter schemas:
 * lookup by name (multi-letter names must be followed by the end of the
 * payload or a separator `:`, `,`, `;`, so `qC` does not swallow `qCRC:`),
 * then a parser that never throws.
 *
 * Payloads arrive as binary strings (one char per byte, see hex.ts).
 */
import { hexToBytes, isHex, latin1Bytes, parseHex32 } from './hex.js';
import type { BreakpointKind } from './target.js';

/** errno-style codes used in `E..` replies (gdb only checks the `E`). */
export const Errno = {
  /** Generic failure (the target refused, a target bug). */
  EPERM: 0x01,
  /** No such thread. */
  ESRCH: 0x03,
  /** Memory not mapped. */
  EFAULT: 0x0e,
  /** Malformed arguments. */
  EINVAL: 0x16,
} as const;

/**
 * A thread selector: a thread id (≥ 1), 0 ("any thread") or -1 ("all
 * threads"). Multiprocess ids `pPID.TID` are accepted and reduced to TID.
 */
export type ThreadSel = number;

/** One action of a `vCont` packet, with the thread it applies to (none = all). */
export type VContAction =
  | { readonly op: 'continue'; readonly signal?: number; readonly thread?: ThreadSel }
  | { readonly op: 'step'; readonly signal?: number; readonly thread?: ThreadSel }
  | { readonly op: 'range'; readonly start: number; readonly end: number; readonly thread?: ThreadSel };

/** A gdb feature from `qSupported:`: `name+` → true, `name-` → false, `name?` → 'query', `name=value` → value. */
export type GdbFeature = boolean | 'query' | string;

/** A parsed packet. */
export type Command =
  | { readonly kind: 'haltReason' }                                                   // ?
  | { readonly kind: 'readRegisters' }                                                // g
  | { readonly kind: 'writeRegisters'; readonly hex: string }                         // G XX… (`x` digits = leave alone)
  | { readonly kind: 'readRegister'; readonly reg: number }                           // p n
  | { readonly kind: 'writeRegister'; readonly reg: number; readonly bytes: Uint8Array } // P n=XX…
  | { readonly kind: 'readMemory'; readonly addr: number; readonly length: number }   // m addr,length
  | { readonly kind: 'writeMemory'; readonly addr: number; readonly data: Uint8Array } // M addr,length:XX…  X addr,length:bin
  | { readonly kind: 'continue'; readonly signal?: number; readonly addr?: number }   // c [addr]  C sig[;addr]
  | { readonly kind: 'step'; readonly signal?: number; readonly addr?: number }       // s [addr]  S sig[;addr]
  | { readonly kind: 'vContQuery' }                                                   // vCont?
  | { readonly kind: 'vCont'; readonly actions: readonly VContAction[] }              // vCont;action[:tid]…
  | { readonly kind: 'insertBreakpoint' | 'removeBreakpoint'; readonly type: BreakpointKind; readonly addr: number; readonly length: number } // Z/z
  | { readonly kind: 'setThread'; readonly op: 'g' | 'c'; readonly thread: ThreadSel } // H op tid
  | { readonly kind: 'threadAlive'; readonly thread: ThreadSel }                      // T tid
  | { readonly kind: 'detach' }                                                       // D [;pid]
  | { readonly kind: 'kill' }                                                         // k
  | { readonly kind: 'supported'; readonly features: ReadonlyMap<string, GdbFeature> } // qSupported[:…]
  | { readonly kind: 'startNoAck' }                                                   // QStartNoAckMode
  | { readonly kind: 'xferRead'; readonly object: string; readonly annex: string; readonly offset: number; readonly length: number } // qXfer:obj:read:annex:off,len
  | { readonly kind: 'threadInfoFirst' }                                              // qfThreadInfo
  | { readonly kind: 'threadInfoNext' }                                               // qsThreadInfo
  | { readonly kind: 'currentThread' }                                                // qC
  | { readonly kind: 'threadExtraInfo'; readonly thread: ThreadSel }                  // qThreadExtraInfo,tid
  | { readonly kind: 'attached' }                                                     // qAttached[:pid]
  | { readonly kind: 'offsets' }                                                      // qOffsets
  | { readonly kind: 'symbol' }                                                       // qSymbol::… (we look nothing up)
  | { readonly kind: 'monitor'; readonly command: string }                            // qRcmd,hex
  | { readonly kind: 'unsupported' }                                                  // → empty reply
  | { readonly kind: 'invalid'; readonly errno: number; readonly why: string };       // → E..

/** One entry of the command table. */
export interface CommandSpec {
  /** The packet name: one letter, or a multi-letter name (qSupported, vCont?, …). */
  readonly name: string;
  /** What the packet is for (documentation; docs/gdb.md lists the same). */
  readonly doc: string;
  /** Parse the arguments (the payload after the name, separator included). Never throws. */
  readonly parse: (args: string) => Command;
}

const invalid = (why: string, errno: number = Errno.EINVAL): Command => ({ kind: 'invalid', errno, why });
const UNSUPPORTED: Command = { kind: 'unsupported' };

/** Upper bound on a register number we accept (far above the table; just keeps numbers sane). */
const MAX_REG = 0xffff;

/** Parse a thread id: hex, `-1`, `0`, or `pPID.TID` (→ TID; `pPID` alone → all of that process). */
export function parseThreadId(s: string): ThreadSel | null {
  if (s === '-1') return -1;
  if (s.startsWith('p')) {
    const dot = s.indexOf('.');
    const pid = dot < 0 ? s.slice(1) : s.slice(1, dot);
    if (pid !== '-1' && parseHex32(pid) === null) return null;
    return dot < 0 ? -1 : parseThreadId(s.slice(dot + 1));
  }
  const v = parseHex32(s);
  return v === null || v > 0x7fffffff ? null : v;
}

/** `addr,length` (both hex, 32-bit). */
function parseAddrLen(s: string): { addr: number; length: number } | null {
  const comma = s.indexOf(',');
  if (comma < 0) return null;
  const addr = parseHex32(s.slice(0, comma));
  const length = parseHex32(s.slice(comma + 1));
  if (addr === null || length === null) return null;
  return { addr, length };
}

/** A signal number: two hex digits (gdb sends exactly two; we accept one or two). */
function parseSignal(s: string): number | null {
  if (s.length < 1 || s.length > 2 || !isHex(s)) return null;
  return parseInt(s, 16);
}

function parseResume(kind: 'continue' | 'step', withSignal: boolean, args: string): Command {
  let signal: number | undefined;
  let rest = args;
  if (withSignal) {
    const semi = args.indexOf(';');
    const sig = parseSignal(semi < 0 ? args : args.slice(0, semi));
    if (sig === null) return invalid('bad signal');
    signal = sig;
    rest = semi < 0 ? '' : args.slice(semi + 1);
    if (semi >= 0 && rest === '') return invalid('bad address');
  }
  let addr: number | undefined;
  if (rest !== '') {
    const a = parseHex32(rest);
    if (a === null) return invalid('bad address');
    addr = a;
  }
  return { kind, ...(signal === undefined ? {} : { signal }), ...(addr === undefined ? {} : { addr }) };
}

/** Parse the actions of `vCont;…` (args start after `vCont`). */
export function parseVCont(args: string): Command {
  if (!args.startsWith(';') || args.length < 2) return invalid('vCont needs actions');
  const actions: VContAction[] = [];
  for (const part of args.slice(1).split(';')) {
    const colon = part.indexOf(':');
    const act = colon < 0 ? part : part.slice(0, colon);
    let thread: ThreadSel | undefined;
    if (colon >= 0) {
      const t = parseThreadId(part.slice(colon + 1));
      if (t === null) return invalid('bad thread id');
      if (t !== -1) thread = t;
    }
    const op = act[0];
    const withThread = <T extends object>(a: T): T => (thread === undefined ? a : { ...a, thread });
    if (act === 'c' || act === 's') {
      actions.push(withThread({ op: act === 'c' ? 'continue' : 'step' } as VContAction));
    } else if (op === 'C' || op === 'S') {
      const signal = parseSignal(act.slice(1));
      if (signal === null) return invalid('bad signal');
      actions.push(withThread({ op: op === 'C' ? 'continue' : 'step', signal } as VContAction));
    } else if (op === 'r') {
      const range = act.slice(1).split(',');
      if (range.length !== 2) return invalid('bad range');
      const start = parseHex32(range[0]!), end = parseHex32(range[1]!);
      if (start === null || end === null) return invalid('bad range');
      actions.push(withThread({ op: 'range', start, end } as VContAction));
    } else {
      // `t` (stop) belongs to non-stop mode, which this stub does not offer.
      return invalid(`unsupported vCont action ${JSON.stringify(act)}`);
    }
  }
  return { kind: 'vCont', actions };
}

const Z_TYPES: readonly BreakpointKind[] = ['sw', 'hw', 'write', 'read', 'access'];

/** `Ztype,addr,kind[;cond…][;cmds…]` (args start after `Z`/`z`). Conditions and commands are ignored. */
function parseZ(insert: boolean, args: string): Command {
  const main = args.split(';')[0]!;
  const parts = main.split(',');
  if (parts.length !== 3 || parts[0]!.length !== 1) return invalid('bad Z packet');
  const type = Z_TYPES['01234'.indexOf(parts[0]!)];
  if (type === undefined) return UNSUPPORTED; // the spec: unknown Z types get an empty reply
  const addr = parseHex32(parts[1]!);
  const length = parseHex32(parts[2]!);
  if (addr === null || length === null || length === 0) return invalid('bad Z address or kind');
  return { kind: insert ? 'insertBreakpoint' : 'removeBreakpoint', type, addr, length };
}

function parseSupported(args: string): Command {
  const features = new Map<string, GdbFeature>();
  if (args.startsWith(':')) {
    for (const f of args.slice(1).split(';')) {
      if (f === '') continue;
      const eq = f.indexOf('=');
      if (eq >= 0) features.set(f.slice(0, eq), f.slice(eq + 1));
      else if (f.endsWith('+')) features.set(f.slice(0, -1), true);
      else if (f.endsWith('-')) features.set(f.slice(0, -1), false);
      else if (f.endsWith('?')) features.set(f.slice(0, -1), 'query');
      else features.set(f, true);
    }
  } else if (args !== '') return UNSUPPORTED;
  return { kind: 'supported', features };
}

function parseXfer(args: string): Command {
  // :object:read:annex:offset,length (our annexes never contain ':'); writes are not offered.
  const parts = args.split(':');
  if (parts[0] !== '' || parts.length < 3 || parts[1] === '') return invalid('bad qXfer');
  if (parts[2] !== 'read') return UNSUPPORTED;
  if (parts.length !== 5) return invalid('bad qXfer read');
  const ol = parseAddrLen(parts[4]!);
  if (ol === null) return invalid('bad qXfer offset');
  return { kind: 'xferRead', object: parts[1]!, annex: parts[3]!, offset: ol.addr, length: ol.length };
}

function exact(kind: 'threadInfoFirst' | 'threadInfoNext' | 'currentThread' | 'offsets' | 'startNoAck' | 'vContQuery' | 'kill'): (args: string) => Command {
  return (args) => (args === '' ? { kind } : UNSUPPORTED);
}

/**
 * The table. Order does not matter: multi-letter names are tried before
 * single letters, longest first.
 */
export const COMMANDS: readonly CommandSpec[] = [
  { name: '?', doc: 'why the target stopped (the last stop reply)', parse: () => ({ kind: 'haltReason' }) },
  { name: 'g', doc: 'read all registers', parse: (a) => (a === '' ? { kind: 'readRegisters' } : invalid('g takes no arguments')) },
  {
    name: 'G', doc: 'write all registers', parse: (a) => (a.length % 2 === 0 && /^[0-9a-fA-Fx]*$/.test(a) && a.length > 0
      ? { kind: 'writeRegisters', hex: a } : invalid('bad register data')),
  },
  {
    name: 'p', doc: 'read one register', parse: (a) => {
      const reg = parseHex32(a);
      return reg === null || reg > MAX_REG ? invalid('bad register number') : { kind: 'readRegister', reg };
    },
  },
  {
    name: 'P', doc: 'write one register', parse: (a) => {
      const eq = a.indexOf('=');
      const reg = eq < 0 ? null : parseHex32(a.slice(0, eq));
      const bytes = eq < 0 ? null : hexToBytes(a.slice(eq + 1));
      if (reg === null || reg > MAX_REG || bytes === null || bytes.length === 0) return invalid('bad P packet');
      return { kind: 'writeRegister', reg, bytes };
    },
  },
  {
    name: 'm', doc: 'read memory (guest-virtual)', parse: (a) => {
      const al = parseAddrLen(a);
      return al === null ? invalid('bad m packet') : { kind: 'readMemory', ...al };
    },
  },
  {
    name: 'M', doc: 'write memory, hex data', parse: (a) => {
      const colon = a.indexOf(':');
      const al = colon < 0 ? null : parseAddrLen(a.slice(0, colon));
      const data = colon < 0 ? null : hexToBytes(a.slice(colon + 1));
      if (al === null || data === null || data.length !== al.length) return invalid('bad M packet');
      return { kind: 'writeMemory', addr: al.addr, data };
    },
  },
  {
    name: 'X', doc: 'write memory, binary data', parse: (a) => {
      const colon = a.indexOf(':');
      const al = colon < 0 ? null : parseAddrLen(a.slice(0, colon));
      if (al === null) return invalid('bad X packet');
      const data = latin1Bytes(a.slice(colon + 1));
      if (data.length !== al.length) return invalid('X length does not match its data');
      return { kind: 'writeMemory', addr: al.addr, data };
    },
  },
  { name: 'c', doc: 'continue [at addr]', parse: (a) => parseResume('continue', false, a) },
  { name: 'C', doc: 'continue with signal [at addr]', parse: (a) => parseResume('continue', true, a) },
  { name: 's', doc: 'single-step [at addr]', parse: (a) => parseResume('step', false, a) },
  { name: 'S', doc: 'single-step with signal [at addr]', parse: (a) => parseResume('step', true, a) },
  { name: 'vCont?', doc: 'which vCont actions are supported', parse: exact('vContQuery') },
  { name: 'vCont', doc: 'resume: c, C, s, S, r (range step) per thread', parse: parseVCont },
  { name: 'Z', doc: 'insert breakpoint (0 sw, 1 hw) or watchpoint (2 write, 3 read, 4 access)', parse: (a) => parseZ(true, a) },
  { name: 'z', doc: 'remove breakpoint or watchpoint', parse: (a) => parseZ(false, a) },
  {
    name: 'H', doc: 'set the thread for g/m/… (Hg) or for c/s (Hc)', parse: (a) => {
      const op = a[0];
      const t = parseThreadId(a.slice(1));
      if ((op !== 'g' && op !== 'c') || t === null) return op === 'g' || op === 'c' ? invalid('bad thread id') : UNSUPPORTED;
      return { kind: 'setThread', op, thread: t };
    },
  },
  {
    name: 'T', doc: 'is the thread alive', parse: (a) => {
      const t = parseThreadId(a);
      return t === null ? invalid('bad thread id') : { kind: 'threadAlive', thread: t };
    },
  },
  { name: 'D', doc: 'detach: the guest keeps running', parse: (a) => (a === '' || a.startsWith(';') ? { kind: 'detach' } : UNSUPPORTED) },
  { name: 'k', doc: 'kill (the target decides what that means; else detach)', parse: exact('kill') },
  { name: 'qSupported', doc: 'feature negotiation', parse: parseSupported },
  { name: 'QStartNoAckMode', doc: 'stop acknowledging packets', parse: exact('startNoAck') },
  { name: 'qXfer', doc: 'read target.xml (features) and the thread list (threads)', parse: parseXfer },
  { name: 'qfThreadInfo', doc: 'first part of the thread list', parse: exact('threadInfoFirst') },
  { name: 'qsThreadInfo', doc: 'rest of the thread list', parse: exact('threadInfoNext') },
  { name: 'qC', doc: 'current thread', parse: exact('currentThread') },
  {
    name: 'qThreadExtraInfo', doc: 'a thread\'s description', parse: (a) => {
      const t = a.startsWith(',') ? parseThreadId(a.slice(1)) : null;
      return t === null ? invalid('bad thread id') : { kind: 'threadExtraInfo', thread: t };
    },
  },
  { name: 'qAttached', doc: 'attached to an existing process: yes (quit detaches)', parse: () => ({ kind: 'attached' }) },
  { name: 'qOffsets', doc: 'section offsets: none (the kernel runs at its link address)', parse: exact('offsets') },
  { name: 'qSymbol', doc: 'symbol lookup offer: declined', parse: () => ({ kind: 'symbol' }) },
  {
    name: 'qRcmd', doc: 'monitor command', parse: (a) => {
      const bytes = a.startsWith(',') ? hexToBytes(a.slice(1)) : null;
      if (bytes === null) return invalid('bad qRcmd');
      return { kind: 'monitor', command: new TextDecoder().decode(bytes) };
    },
  },
];

const MULTI = COMMANDS.filter((c) => c.name.length > 1).sort((a, b) => b.name.length - a.name.length);
const SINGLE = new Map(COMMANDS.filter((c) => c.name.length === 1).map((c) => [c.name, c]));

/** Parse one packet payload (a binary string). Never throws. */
export function parseCommand(payload: string): Command {
  for (const spec of MULTI) {
    if (!payload.startsWith(spec.name)) continue;
    const rest = payload.slice(spec.name.length);
    // A multi-letter name must end at a separator (vCont? ends itself).
    if (rest === '' || spec.name.endsWith('?') || ':,;'.includes(rest[0]!)) return spec.parse(rest);
  }
  const spec = SINGLE.get(payload.slice(0, 1));
  // q/Q/v names not in the table (qTStatus, vMustReplyEmpty, …) fall through to "unsupported".
  if (spec === undefined) return UNSUPPORTED;
  return spec.parse(payload.slice(1));
}
