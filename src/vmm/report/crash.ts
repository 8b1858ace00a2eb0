/**
 * The crash report: the VMM's view of a guest that crashed (SHUTDOWN_crash,
 * a domain crash by "Xen" such as an exception with no handler, or a triple
 * fault), so that a crash is never silent (docs/cli.md shows an example).
 *
 * Sections, in order: the reason; the kernel and vCPU; the registers
 * (general, EIP symbolized, EFLAGS decoded, segment selectors, CR0/2/3/4);
 * the instruction at CS:EIP, disassembled; the exceptions and software
 * interrupts delivered most recently (when an `ExceptionLog` is given: a
 * guest that panics from its own fault handler shows its original fault
 * here); a symbolized backtrace; the top of the stack; the last hypercalls.
 *
 * The backtrace follows the EBP frame chain (saved EBP at [ebp], return
 * address at [ebp+4]) for at most `maxFrames` frames, stopping at a null,
 * misaligned, unmapped or non-increasing frame, or at a "return address"
 * that no call instruction precedes. When EIP is in the hypercall page,
 * [esp] is the return address of the hypercall-page call (the stubs have
 * no frame). Code built without frame pointers (gcc -O2 on i386) leaves no
 * usable chain; the report then scans the stack for words that are return
 * addresses: inside a symbol, and preceded by a call instruction.
 *
 * Memory is read only with `Cpu.peekLinear`, which never faults and has no
 * side effects, so a report can be made of any machine state. Pure: a
 * machine in, a string out.
 */
import { SEG_NAMES, Seg, R, REG_NAMES, type Cpu } from '../cpu/cpu.js';
import { VECTOR_NAMES } from '../cpu/fault.js';
import { readEflags } from '../cpu/flags.js';
import type { KernelImage } from '../../loader/kernel.js';
import type { SymbolTable } from '../../loader/symbols.js';
import type { Domain } from '../xen/domain.js';
import type { MachineExit } from '../machine.js';
import { SHUTDOWN } from '../xen/abi/sched.js';
import { nameOf } from '../xen/abi/layout.js';
import type { ExceptionRecord } from './exceptions.js';
import { disassembleAt } from './insn.js';
import { PLAIN, type Palette } from './style.js';
import { hex, hex8, symbolAt, symbolForReturn } from './symbolize.js';
import { formatHypercall } from './trace.js';

/** What the report reads of a machine (a `Machine` satisfies it). */
export interface ReportSubject {
  readonly kernel: KernelImage;
  readonly cpu: Cpu;
  readonly domain: Domain;
  /** The paravirtual disks and NICs, one line each (Machine.describeDevices); absent or empty: no section. */
  describeDevices?(): string[];
}

/** What to report and how. */
export interface CrashReportOptions {
  /** Why the machine stopped (null: a state dump, e.g. after an internal error). */
  exit: MachineExit | null;
  /** Recently delivered exceptions, oldest first (from an `ExceptionLog`). */
  exceptions?: readonly ExceptionRecord[];
  palette?: Palette;
  /** Backtrace depth limit (default 32). */
  maxFrames?: number;
  /** Words of stack shown (default 16). */
  stackWords?: number;
  /** The guest's name when several run in one process: the heading names it. */
  guest?: string;
}

/** One backtrace frame. */
export interface Frame {
  addr: number;
  /** 'eip': the current instruction; 'hypercall': [esp] under a hypercall-page stub; 'frame': the EBP chain; 'scan': found on the stack. */
  how: 'eip' | 'hypercall' | 'frame' | 'scan';
}

const FLAG_NAMES: [number, string][] = [
  [0x1, 'CF'], [0x4, 'PF'], [0x10, 'AF'], [0x40, 'ZF'], [0x80, 'SF'], [0x100, 'TF'], [0x200, 'IF'], [0x400, 'DF'],
  [0x800, 'OF'], [0x4000, 'NT'], [0x10000, 'RF'], [0x20000, 'VM'], [0x40000, 'AC'], [0x80000, 'VIF'],
  [0x100000, 'VIP'], [0x200000, 'ID'],
];

/** EFLAGS as names: "[PF ZF IF] iopl=0". */
export function decodeEflags(v: number): string {
  const set = FLAG_NAMES.filter(([bit]) => (v & bit) !== 0).map(([, n]) => n);
  return `[${set.join(' ')}] iopl=${(v >>> 12) & 3}`;
}

/** "SHUTDOWN_crash" for a shutdown reason. */
export function shutdownName(reason: number): string {
  const n = nameOf(SHUTDOWN, reason);
  return n !== undefined ? `SHUTDOWN_${n}` : `shutdown reason ${reason}`;
}

function vectorName(v: number): string {
  return VECTOR_NAMES[v] ?? (v < 32 ? `vector ${v}` : `int ${hex(v)}`);
}

/** One line saying why the machine stopped. */
export function describeExit(exit: MachineExit | null): string {
  if (exit === null) return 'state of the machine (no exit yet)';
  switch (exit.kind) {
    case 'shutdown':
      return exit.reason === SHUTDOWN.crash
        ? 'the guest shut down with SHUTDOWN_crash (SCHEDOP_shutdown: its own panic)'
        : `the guest shut down with ${shutdownName(exit.reason)}`;
    case 'crash': {
      const ec = exit.errorCode !== undefined && exit.errorCode >= 0 ? `, error code ${hex(exit.errorCode)}` : '';
      return `domain crashed: ${exit.message}${ec}`;
    }
    case 'triple-fault':
      return 'triple fault: a fault while delivering a double fault shut the vCPU down';
    case 'halted':
      return 'the vCPU halted with nothing that could wake it';
  }
}

/** The register block, one line per group, two-space indented. */
export function formatRegisters(cpu: Cpu, symbols: SymbolTable, p: Palette = PLAIN): string[] {
  const r = (i: number): string => `${REG_NAMES[i]}=${hex8(cpu.r32[i]!).slice(2)}`;
  const eip = cpu.eip >>> 0;
  const sym = symbolAt(symbols, (cpu.segBase[Seg.CS]! + eip) >>> 0);
  const fl = readEflags(cpu);
  const sel = (s: number): string => `${SEG_NAMES[s]}=${cpu.segSel[s]!.toString(16).padStart(4, '0')}`;
  const cr = (n: string, v: number): string => `${n}=${hex8(v).slice(2)}`;
  return [
    `  ${r(R.EAX)} ${r(R.EBX)} ${r(R.ECX)} ${r(R.EDX)}`,
    `  ${r(R.ESI)} ${r(R.EDI)} ${r(R.EBP)} ${r(R.ESP)}`,
    `  eip=${hex8(eip).slice(2)}${sym !== null ? ' ' + p.symbol(sym) : ''}`,
    `  eflags=${hex8(fl).slice(2)} ${decodeEflags(fl)} cpl=${cpu.cpl}`,
    `  ${[Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS].map(sel).join(' ')}`,
    `  ${cr('cr0', cpu.cr0)} ${cr('cr2', cpu.cr2)} ${cr('cr3', cpu.cr3)} ${cr('cr4', cpu.cr4)}`,
  ];
}

function bytesHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** "  0f 0b                     ud2" (or a note when unmapped). */
function insnLine(cpu: Cpu, eip: number, csBase: number, code32: boolean): string {
  const d = disassembleAt(cpu, eip, csBase, code32);
  if (d === null) return `  (${hex8(csBase + eip)} is not mapped)`;
  return `  ${bytesHex(d.bytes).padEnd(24)} ${d.text}`;
}

function read32(cpu: Cpu, la: number): number | null {
  const b = cpu.peekLinear(la >>> 0, 4);
  return b === null ? null : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** Length of an `FF /2` (near indirect call) whose ModRM byte is `modrm`. */
function callIndirectLen(modrm: number, sib: number | undefined): number {
  const mod = modrm >> 6, rm = modrm & 7;
  if (mod === 3) return 2;
  const sibLen = rm === 4 ? 1 : 0;
  if (mod === 0) {
    if (rm === 5) return 6;
    if (rm === 4 && sib !== undefined && (sib & 7) === 5) return 7;
    return 2 + sibLen;
  }
  return (mod === 1 ? 3 : 6) + sibLen;
}

/** Is `ret` preceded by a near call (E8 rel32, or FF /2)? */
export function followsCall(cpu: Cpu, ret: number): boolean {
  const a = ret >>> 0;
  if (a < 7) return false;
  const b = cpu.peekLinear((a - 7) >>> 0, 7);
  if (b === null) {
    const c = cpu.peekLinear((a - 5) >>> 0, 5);
    return c !== null && c[0] === 0xe8;
  }
  if (b[2] === 0xe8) return true;
  for (let k = 2; k <= 7; k++) {
    const i = 7 - k;
    if (b[i] !== 0xff) continue;
    const modrm = b[i + 1]!;
    if (((modrm >> 3) & 7) !== 2) continue;
    if (callIndirectLen(modrm, b[i + 2]) === k) return true;
  }
  return false;
}

/** The hypercall page's address (PV note, or the `hypercall_page` symbol), if any. */
function hypercallPage(k: KernelImage): number | null {
  return k.hypercallPage ?? k.symbols.address('hypercall_page') ?? null;
}

/**
 * A backtrace of the vCPU: EIP, then the EBP chain, or a stack scan when
 * the chain gives nothing. Returns the frames and how they were found.
 */
export function backtrace(cpu: Cpu, kernel: KernelImage, maxFrames = 32): { frames: Frame[]; method: 'frame pointers' | 'stack scan' } {
  const ss = cpu.segBase[Seg.SS]!;
  const eip = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
  const esp = cpu.r32[R.ESP]! >>> 0;
  const frames: Frame[] = [{ addr: eip, how: 'eip' }];
  const hp = hypercallPage(kernel);
  if (hp !== null && eip >= hp && eip < hp + 4096) {
    const ret = read32(cpu, ss + esp);
    if (ret !== null && followsCall(cpu, ret)) frames.push({ addr: ret, how: 'hypercall' });
  }
  const base = frames.length;
  let ebp = cpu.r32[R.EBP]! >>> 0;
  if (ebp >= esp && ebp - esp < 0x100000) {
    while (frames.length < maxFrames && ebp !== 0 && (ebp & 3) === 0) {
      const next = read32(cpu, ss + ebp), ret = read32(cpu, ss + ebp + 4);
      if (next === null || ret === null || ret === 0 || !followsCall(cpu, ret)) break;
      frames.push({ addr: ret, how: 'frame' });
      if (next <= ebp) break;
      ebp = next;
    }
  }
  if (frames.length > base) return { frames, method: 'frame pointers' };
  // No chain: scan the stack for return addresses (stop at the first unmapped word).
  for (let i = 0; i < 1024 && frames.length < maxFrames; i++) {
    const w = read32(cpu, ss + esp + i * 4);
    if (w === null) break;
    if (kernel.symbols.lookup(w) === null || !followsCall(cpu, w)) continue;
    if (i === 0 && frames[1]?.how === 'hypercall') continue;
    frames.push({ addr: w, how: 'scan' });
  }
  return { frames, method: 'stack scan' };
}

/** Symbolize a frame address (return addresses one byte back). */
function frameName(symbols: SymbolTable, f: Frame): string | null {
  return f.how === 'eip' ? symbolAt(symbols, f.addr) : symbolForReturn(symbols, f.addr);
}

function exceptionLines(cpu: Cpu, symbols: SymbolTable, recs: readonly ExceptionRecord[], p: Palette): string[] {
  const out: string[] = [];
  let prev = -1;
  for (const e of recs) {
    const ago = cpu.icount - e.icount;
    const where = `${hex8(e.linear)}${((s) => (s !== null ? ' ' + p.symbol(s) : ''))(e.kind === 'exception' ? symbolAt(symbols, e.linear) : symbolForReturn(symbols, e.linear))}`;
    const ec = e.errorCode >= 0 ? ` error=${hex(e.errorCode)}` : '';
    const cr2 = e.vector === 14 ? ` cr2=${hex8(e.cr2)}` : '';
    const when = ` ${p.dim(`(cs=${e.cs.toString(16).padStart(4, '0')}, ${ago} instructions before the end)`)}`;
    if (e.kind === 'exception') {
      out.push(`  ${vectorName(e.vector)} at ${where}${ec}${cr2}${when}`);
      // Escalations (#GP, #DF while delivering) repeat the address: show its instruction once.
      // The linear address was computed with the CS base at delivery.
      if (e.linear !== prev) out.push(`  ${insnLine(cpu, e.linear, 0, cpu.code32)}`);
      prev = e.linear;
    } else {
      prev = -1;
      out.push(`  ${e.kind} interrupt ${vectorName(e.vector)} returning to ${where}${when}`);
    }
  }
  return out;
}

/** The stack from ESP, four words a line. */
function stackLines(cpu: Cpu, words: number): string[] {
  const ss = cpu.segBase[Seg.SS]!, esp = cpu.r32[R.ESP]! >>> 0;
  const out: string[] = [];
  for (let i = 0; i < words; i += 4) {
    const row: string[] = [];
    for (let k = i; k < i + 4 && k < words; k++) {
      const w = read32(cpu, ss + esp + k * 4);
      if (w === null) break;
      row.push(hex8(w).slice(2));
    }
    if (row.length === 0) {
      if (i === 0) out.push(`  (${hex8(ss + esp)} is not mapped)`);
      break;
    }
    out.push(`  ${hex8(esp + i * 4).slice(2)}: ${row.join(' ')}`);
    if (row.length < 4) break;
  }
  return out;
}

/** The full crash report, as lines joined with "\n" (ending with one). */
export function formatCrashReport(m: ReportSubject, o: CrashReportOptions): string {
  const p = o.palette ?? PLAIN;
  const { cpu, kernel, domain } = m;
  const symbols = kernel.symbols;
  const exit = o.exit;
  const out: string[] = [];
  const faulting = exit !== null && (exit.kind === 'crash' || exit.kind === 'triple-fault');

  out.push(p.heading(p.error(o.guest === undefined ? '=== xenkit crash report ===' : `=== xenkit crash report: guest [${o.guest}] ===`)));
  out.push(`reason:  ${p.error(describeExit(exit))}`);
  const mib = (domain.nrPages * 4096) / (1 << 20);
  out.push(`kernel:  ${kernel.file} (${kernel.type.toUpperCase()}), ${mib} MiB, command line ${JSON.stringify(domain.cmdline)}`);
  out.push(`vCPU:    ${cpu.icount} instructions retired`);
  out.push('');

  out.push(p.heading('registers:'));
  out.push(...formatRegisters(cpu, symbols, p));
  out.push('');

  const csBase = cpu.segBase[Seg.CS]!, eip = cpu.eip >>> 0, lin = (csBase + eip) >>> 0;
  const eipSym = symbolAt(symbols, lin);
  out.push(p.heading(`${faulting ? 'faulting instruction' : 'instruction at cs:eip'} (${hex8(lin)}${eipSym !== null ? ', ' + p.symbol(eipSym) : ''}):`));
  out.push(insnLine(cpu, eip, csBase, cpu.code32));
  out.push('');

  if (o.exceptions !== undefined) {
    out.push(p.heading('recent exceptions (oldest first):'));
    out.push(...(o.exceptions.length > 0 ? exceptionLines(cpu, symbols, o.exceptions, p) : ['  (none delivered)']));
    out.push('');
  }

  const bt = backtrace(cpu, kernel, o.maxFrames ?? 32);
  out.push(p.heading(`backtrace (${bt.method}${bt.method === 'stack scan' ? ': return addresses found on the stack, some may be stale' : ''}):`));
  bt.frames.forEach((f, i) => {
    const name = frameName(symbols, f);
    out.push(`  #${String(i).padEnd(2)} ${hex8(f.addr)}${name !== null ? '  ' + p.symbol(name) : ''}`);
  });
  if (bt.frames.length === 1 && bt.method === 'stack scan') out.push(p.dim('  (no frame chain, and no return address found on the stack)'));
  if (symbols.size === 0) out.push(p.dim('  (the kernel has no symbol table: link without -s to get names)'));
  out.push('');

  const words = o.stackWords ?? 16;
  if (words > 0) {
    out.push(p.heading(`stack (ss:esp = ${hex8(cpu.segBase[Seg.SS]! + cpu.r32[R.ESP]!)}):`));
    out.push(...stackLines(cpu, words));
    out.push('');
  }

  const log = domain.log;
  out.push(p.heading(`last hypercalls (oldest first, ${log.length}):`));
  if (log.length === 0) out.push('  (none)');
  // Runs of the same call (a guest kicking its console ring) print once, with a count.
  const lines = log.map((rec) => formatHypercall(rec, symbols, p));
  for (let i = 0; i < lines.length;) {
    let j = i + 1;
    while (j < lines.length && lines[j] === lines[i]) j++;
    out.push(`  ${lines[i]!}${j - i > 1 ? p.dim(`  (${j - i} times)`) : ''}`);
    i = j;
  }
  // Where the devices' handshakes stood: a frontend that crashes mid-handshake shows it here.
  const devices = m.describeDevices?.() ?? [];
  if (devices.length > 0) {
    out.push('');
    out.push(p.heading('devices:'));
    for (const d of devices) out.push(`  ${d}`);
  }
  return out.join('\n') + '\n';
}

/** A short description of where the vCPU is, e.g. "eip 0x00101234 demo+0x5b". */
export function whereIs(m: ReportSubject): string {
  const lin = (m.cpu.segBase[Seg.CS]! + m.cpu.eip) >>> 0;
  const sym = symbolAt(m.kernel.symbols, lin);
  return `eip ${hex8(lin)}${sym !== null ? ` (${sym})` : ''}`;
}
