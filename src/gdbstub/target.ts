/**
 * The bottom layer of the gdb stub: what the stub needs from the thing it
 * debugs (`DebugTarget`), the i386 register numbering the stub and gdb
 * agree on, and the `target.xml` target description that makes that
 * numbering explicit, so gdb never guesses the register layout.
 *
 * Follows the GDB manual, "Target Descriptions" (Appendix G: the XML
 * format, `org.gnu.gdb.i386.core`) and "Remote Protocol" (Appendix E),
 * in the spirit of the `gdbstub` crate's `Target` trait: optional
 * capabilities decide both what the stub dispatches and what it announces
 * in `qSupported`.
 *
 * The VMM implements `DebugTarget`; nothing here imports from src/vmm.
 */

/**
 * A gdb thread id: one per vCPU, vCPU index + 1 (gdb reserves 0 for "any
 * thread" and -1 for "all threads", so real ids start at 1).
 */
export type ThreadId = number;

/** One vCPU as gdb sees it (`qfThreadInfo`, `qXfer:threads:read`, `info threads`). */
export interface ThreadInfo {
  readonly id: ThreadId;
  /** Shown by `info threads`, e.g. `vcpu0`. */
  readonly name?: string;
}

/**
 * A register value: an unsigned number for registers of up to 32 bits,
 * or the raw little-endian bytes (exactly bitsize/8 of them) for any
 * register, which is the only form for the 80-bit x87 registers.
 */
export type RegValue = number | Uint8Array;

/**
 * Register values indexed by gdb register number (`Reg`). An entry that is
 * `undefined` (or missing) is reported to gdb as unavailable (`xx…`), which
 * gdb prints as `<unavailable>`.
 */
export type RegisterValues = ReadonlyArray<RegValue | undefined>;

/**
 * What a Z/z packet inserts or removes: `sw` (Z0: a software breakpoint,
 * kept inside the emulator, guest memory untouched), `hw` (Z1), and the
 * watchpoints `write` (Z2), `read` (Z3) and `access` (Z4).
 */
export type BreakpointKind = 'sw' | 'hw' | 'write' | 'read' | 'access';

/** How one thread resumes. `signal` (from `C`/`S`) is gdb's number; the target may ignore it. */
export type ResumeAction =
  /** Run until something stops the guest. Event upcalls and timers are delivered. */
  | { readonly kind: 'continue'; readonly signal?: number }
  /**
   * Execute exactly one guest instruction of this thread, then stop with
   * `{ kind: 'step' }`. No event-channel upcall or timer interrupt may be
   * delivered in between (single-step must not wander into handlers).
   */
  | { readonly kind: 'step'; readonly signal?: number }
  /**
   * Step while `start <= eip < end` (vCont `r`). Only passed to targets
   * that set `capabilities.rangeStepping`; for the others the session
   * emulates it with `step`s. Same delivery rule as `step`.
   */
  | { readonly kind: 'range'; readonly start: number; readonly end: number; readonly signal?: number };

/**
 * Why the target stopped, as it reports it to `StopListener.stopped`. The
 * session turns it into a stop reply (`T05swbreak:;thread:1;…`, `W00`, …).
 * `message`, when given, is sent to gdb as console output (`O` packets)
 * just before the stop reply, e.g. "guest rebooted into a rebuilt kernel".
 */
export type StopReason =
  /** A breakpoint (Z0 or Z1) at the current EIP, which still names the breakpointed instruction (not executed). */
  | { readonly kind: 'breakpoint'; readonly thread: ThreadId; readonly type: 'sw' | 'hw'; readonly message?: string }
  /**
   * A watchpoint (Z2/Z3/Z4) fired: `addr` is the start address of the
   * watchpoint as it was inserted (gdb matches it against its own list).
   * Write and access watchpoints stop after the accessing instruction
   * (EIP names the next one), as x86 data breakpoints do.
   */
  | { readonly kind: 'watch'; readonly thread: ThreadId; readonly access: 'write' | 'read' | 'access'; readonly addr: number; readonly message?: string }
  /** A `step` (or a `range` step that left its range) completed. */
  | { readonly kind: 'step'; readonly thread: ThreadId; readonly message?: string }
  /** Stopped because `interrupt()` asked (gdb's Ctrl-C): reported as SIGINT. */
  | { readonly kind: 'interrupt'; readonly thread: ThreadId; readonly message?: string }
  /**
   * Stopped with a signal: `Signal.SEGV` for a guest crash or triple fault,
   * `Signal.TRAP` for the first instruction (`--gdb-wait`) or a reboot, …
   */
  | { readonly kind: 'signal'; readonly thread: ThreadId; readonly signal: number; readonly message?: string }
  /** The guest is gone: exited with a status (`W`), e.g. a poweroff. */
  | { readonly kind: 'exited'; readonly code: number; readonly message?: string }
  /** The guest is gone: terminated by a signal (`X`). */
  | { readonly kind: 'terminated'; readonly signal: number; readonly message?: string };

/** gdb's own (host-independent) signal numbers, as used in stop replies and `C`/`S`. */
export const Signal = {
  INT: 2,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  FPE: 8,
  KILL: 9,
  BUS: 10,
  SEGV: 11,
} as const;

/** The session's side of the target's stop notifications. */
export interface StopListener {
  /** The target stopped (or the guest ended). May be called synchronously from `resume`/`interrupt`/`attach`. */
  stopped(reason: StopReason): void;
}

/** What the target can do; decides both dispatch and the `qSupported` reply. */
export interface TargetCapabilities {
  /** Z0/z0 and the `swbreak` stop reason. */
  readonly swBreakpoints: boolean;
  /** Z1/z1 and the `hwbreak` stop reason. */
  readonly hwBreakpoints: boolean;
  /** Z2/Z3/Z4 (write, read, access watchpoints): any size, any number. */
  readonly watchpoints: boolean;
  /** vCont `r` done by the target itself; without it the session emulates range steps with `step`. */
  readonly rangeStepping?: boolean;
}

/**
 * `monitor` commands the target implements (each optional; the stub parses
 * the arguments and lists the ones present in `monitor help`). Each returns
 * the text to show in gdb (a trailing newline is added when missing).
 */
export interface MonitorHandlers {
  /** `monitor regs`: every register, system registers too. */
  regs?(thread: ThreadId): string;
  /** `monitor pt <va>`: the page-table walk for a virtual address. */
  pageWalk?(thread: ThreadId, va: number): string;
  /** `monitor xs ls [path]`: a xenstore directory (path defaults to `/`). */
  xsList?(path: string): string;
  /** `monitor evtchn`: the event channels. */
  evtchn?(): string;
  /**
   * `monitor reset`: reboot the guest and stay stopped at its first
   * instruction. gdb's register cache is then stale: the reply should say
   * so (`maint flush register-cache`, or just `stepi`).
   */
  reset?(): string;
  /** `monitor trace hypercalls on|off`. */
  hypercallTrace?(on: boolean): string;
  /** `monitor trace xenstore on|off`. */
  xenstoreTrace?(on: boolean): string;
  /** `monitor trace events on|off`. */
  eventTrace?(on: boolean): string;
  /** `monitor devices`: the paravirtual devices, their handshake and counters. */
  devices?(): string;
  /** Any other monitor command line; null means "unknown command". */
  other?(line: string): string | null;
}

/**
 * The debugged machine, as the stub drives it (one session at a time).
 *
 * Every method is synchronous; only stops are asynchronous (reported
 * through the listener given to `attach`). Methods are called while the
 * target is stopped, except `interrupt`, and `removeBreakpoint` + `detach`
 * when the connection is lost while the guest runs (a gdb that sends
 * other packets while the guest runs is answered from the current state,
 * which is consistent between run slices). Guest errors are values (null,
 * false), never throws; an exception is a bug in the target (the session
 * answers `E01` and reports it through `SessionOptions.onError`).
 */
export interface DebugTarget {
  readonly capabilities: TargetCapabilities;

  /**
   * A debugger connected: stop the guest (if it runs) and report that stop
   * through `listener` (now or later). From then on every stop goes to this
   * listener, until `detach`/`kill`. Typical first reasons:
   * `{ kind: 'signal', signal: Signal.TRAP }` (stopped before the first
   * instruction, `--gdb-wait`) or `{ kind: 'interrupt' }`.
   */
  attach(listener: StopListener): void;
  /**
   * The debugger is gone (`D`, or the connection closed): forget the
   * listener and let the guest run on freely. The session has already
   * removed every breakpoint it inserted.
   */
  detach(): void;
  /** `k`: the VMM decides what killing means (e.g. end the run). Without it, `k` detaches. */
  kill?(): void;

  /**
   * Start running: each listed thread does its action, threads not in the
   * map stay stopped. Returns at once; the target reports the next stop
   * through the listener (possibly synchronously, from inside `resume`).
   */
  resume(actions: ReadonlyMap<ThreadId, ResumeAction>): void;
  /**
   * gdb's Ctrl-C while running: stop soon (at the end of the current slice
   * is fine) and report `{ kind: 'interrupt' }`, or whatever stopped it
   * first. Never called while stopped; ignore it if it races with a stop.
   */
  interrupt(): void;

  /** The vCPUs, in order; at least one. */
  threads(): readonly ThreadInfo[];

  /** All registers of a vCPU, indexed by `Reg` (missing → unavailable). */
  readRegisters(thread: ThreadId): RegisterValues;
  /** Set one register (number for ≤ 32 bits, bytes otherwise); false if it cannot be written (e.g. `cpl`). */
  writeRegister(thread: ThreadId, reg: number, value: RegValue): boolean;

  /**
   * Read guest-virtual memory through the vCPU's current page tables.
   * null (or an empty array) when the first byte is not mapped; a shorter
   * array when the range runs into an unmapped page. Never throws.
   */
  readMemory(thread: ThreadId, addr: number, length: number): Uint8Array | null;
  /** Write guest-virtual memory; false (nothing or part written) when a page is not mapped or not writable. */
  writeMemory(thread: ThreadId, addr: number, data: Uint8Array): boolean;

  /**
   * Insert a breakpoint or watchpoint (addresses are guest-virtual;
   * `length` is 1 for breakpoints, the watched bytes for watchpoints).
   * False when it cannot be inserted. The session never inserts the same
   * (kind, addr, length) twice and removes only what it inserted.
   */
  addBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean;
  /** Remove a breakpoint or watchpoint inserted by `addBreakpoint`. */
  removeBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean;

  /** `monitor` (qRcmd) command implementations. */
  readonly monitor?: MonitorHandlers;
}

/* ------------------------------------------------------------------ */
/* Registers                                                          */
/* ------------------------------------------------------------------ */

/** One register as described in target.xml and carried in `g`/`p`. */
export interface RegisterDef {
  readonly name: string;
  readonly bitsize: number;
  /** A gdb predefined type or one of the flag types declared in target.xml. */
  readonly type: string;
  readonly group?: 'general' | 'float' | 'system';
  /** The target.xml feature that holds the register. */
  readonly feature: 'core' | 'system';
}

/**
 * gdb (remote) register numbers, the order of `g` packets. 0–15 are gdb's
 * i386 order, 16–31 the x87 state that `org.gnu.gdb.i386.core` must
 * contain (gdb 13 answers a core feature without it with "Architecture
 * rejected target-supplied description"; a target without an FPU model
 * leaves them undefined and gdb shows `<unavailable>`), 32–38 xenkit's
 * `org.xenkit.i386.system` feature. Segment registers are the selectors.
 */
export const Reg = {
  EAX: 0, ECX: 1, EDX: 2, EBX: 3, ESP: 4, EBP: 5, ESI: 6, EDI: 7,
  EIP: 8, EFLAGS: 9, CS: 10, SS: 11, DS: 12, ES: 13, FS: 14, GS: 15,
  ST0: 16, FCTRL: 24, FSTAT: 25, FTAG: 26, FISEG: 27, FIOFF: 28, FOSEG: 29, FOOFF: 30, FOP: 31,
  CR0: 32, CR2: 33, CR3: 34, CR4: 35,
  /** Current privilege level (CS.RPL): 1 for a PV kernel, 0 for PVH, 3 in user mode. Read-only. */
  CPL: 36,
  /** Xen PV: vcpu_info.evtchn_upcall_mask of this vCPU. */
  UPCALL_MASK: 37,
  /** Xen PV: vcpu_info.evtchn_upcall_pending of this vCPU. */
  UPCALL_PENDING: 38,
} as const;

const core = (name: string, type: string, bitsize = 32, group?: RegisterDef['group']): RegisterDef =>
  group === undefined ? { name, bitsize, type, feature: 'core' } : { name, bitsize, type, group, feature: 'core' };
const sys = (name: string, type: string): RegisterDef => ({ name, bitsize: 32, type, group: 'system', feature: 'system' });

/** Every register, indexed by gdb register number (see `Reg`). */
export const REGISTERS: readonly RegisterDef[] = [
  core('eax', 'int32'), core('ecx', 'int32'), core('edx', 'int32'), core('ebx', 'int32'),
  core('esp', 'data_ptr'), core('ebp', 'data_ptr'), core('esi', 'int32'), core('edi', 'int32'),
  core('eip', 'code_ptr'), core('eflags', 'i386_eflags'),
  core('cs', 'int32'), core('ss', 'int32'), core('ds', 'int32'), core('es', 'int32'), core('fs', 'int32'), core('gs', 'int32'),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => core(`st${i}`, 'i387_ext', 80)),
  ...['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'].map((n) => core(n, 'int', 32, 'float')),
  sys('cr0', 'xenkit_cr0'), sys('cr2', 'data_ptr'), sys('cr3', 'uint32'), sys('cr4', 'xenkit_cr4'),
  sys('cpl', 'uint32'), sys('upcall_mask', 'uint32'), sys('upcall_pending', 'uint32'),
];

/** Bytes of register `n` in `g`/`p` packets (0 for an unknown number). */
export function registerSize(n: number): number {
  const r = REGISTERS[n];
  return r === undefined ? 0 : r.bitsize / 8;
}

/* ------------------------------------------------------------------ */
/* target.xml                                                         */
/* ------------------------------------------------------------------ */

type Flag = readonly [bit: number, name: string];

/** EFLAGS bits, as gdb's own 32bit-core.xml names them. */
const EFLAGS: readonly Flag[] = [
  [0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
];
const CR0: readonly Flag[] = [
  [0, 'PE'], [1, 'MP'], [2, 'EM'], [3, 'TS'], [4, 'ET'], [5, 'NE'], [16, 'WP'], [18, 'AM'], [29, 'NW'], [30, 'CD'], [31, 'PG'],
];
const CR4: readonly Flag[] = [
  [0, 'VME'], [1, 'PVI'], [2, 'TSD'], [3, 'DE'], [4, 'PSE'], [5, 'PAE'], [6, 'MCE'], [7, 'PGE'], [8, 'PCE'],
  [9, 'OSFXSR'], [10, 'OSXMMEXCPT'], [16, 'FSGSBASE'], [18, 'OSXSAVE'], [20, 'SMEP'], [21, 'SMAP'],
];

function flags(id: string, fields: readonly Flag[]): string {
  const f = fields.map(([bit, name]) => `    <field name="${name}" start="${bit}" end="${bit}"/>\n`).join('');
  return `    <flags id="${id}" size="4">\n${f}    </flags>\n`;
}

function regs(feature: RegisterDef['feature']): string {
  let out = '';
  REGISTERS.forEach((r, n) => {
    if (r.feature !== feature) return;
    const group = r.group === undefined ? '' : ` group="${r.group}"`;
    out += `    <reg name="${r.name}" bitsize="${r.bitsize}" type="${r.type}" regnum="${n}"${group}/>\n`;
  });
  return out;
}

/**
 * The target description served as `target.xml` (qXfer:features:read):
 * architecture i386, osabi none (a bare guest kernel, not a Linux
 * process), gdb's standard `org.gnu.gdb.i386.core` feature (names, types
 * and order exactly as gdb's i386 architecture validates them), and
 * `org.xenkit.i386.system` with CR0–CR4 and the Xen PV state. Those carry
 * group="system", but gdb's i386 architecture decides groups itself and
 * shows unknown registers with the general ones, so `info registers`
 * lists them after gs (and `p $cr3`, `info registers cr3` work).
 *
 * gdb keeps its own register numbers 32–73 for SSE/AVX and friends and
 * puts ours after them internally; what matters on the wire is the remote
 * number (`regnum`), which is the index into `REGISTERS`.
 */
export function targetXml(): string {
  return '<?xml version="1.0"?>\n' +
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">\n' +
    '<target version="1.0">\n' +
    '  <architecture>i386</architecture>\n' +
    '  <osabi>none</osabi>\n' +
    '  <feature name="org.gnu.gdb.i386.core">\n' +
    flags('i386_eflags', EFLAGS) +
    regs('core') +
    '  </feature>\n' +
    '  <feature name="org.xenkit.i386.system">\n' +
    flags('xenkit_cr0', CR0) +
    flags('xenkit_cr4', CR4) +
    regs('system') +
    '  </feature>\n' +
    '</target>\n';
}
