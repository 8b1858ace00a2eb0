/**
 * One guest instruction, read without side effects and disassembled, for
 * crash reports: the bytes at CS:EIP come from `Cpu.peekLinear` (never
 * faults, never sets accessed/dirty bits, never fills the TLB), and are
 * decoded by a private scratch CPU whose CS base is chosen so that the
 * decoder sees them at the same EIP. Relative branch targets therefore
 * print as the guest's own addresses, and the guest's CPU, TLB and block
 * cache are never touched.
 */
import { Seg, SA, type Cpu } from '../cpu/cpu.js';
import { createCpu, flatAttr } from '../cpu/index.js';
import { decode } from '../cpu/decoder.js';
import { disassemble } from '../cpu/disasm.js';
import { OPCODES } from '../cpu/opcodes.js';
import { CpuFault } from '../cpu/fault.js';
import { PhysMemory } from '../memory/phys.js';

/** Longest x86 instruction. */
const MAX_INSN = 15;

/** A disassembled instruction. */
export interface DisassembledInsn {
  /** Linear address of its first byte. */
  linear: number;
  /** Its bytes (as many as were readable, up to its length). */
  bytes: Uint8Array;
  /** Intel-syntax text, or a note when the bytes could not be decoded. */
  text: string;
}

let scratch: Cpu | null = null;

/** The scratch CPU (paging off, 4 KiB of memory) the bytes are decoded in. */
function scratchCpu(): Cpu {
  if (scratch === null) scratch = createCpu(new PhysMemory(4096));
  return scratch;
}

/** Read up to `max` bytes at `linear`, stopping at the first unmapped byte. */
export function peekUpTo(cpu: Cpu, linear: number, max: number): Uint8Array {
  const all = cpu.peekLinear(linear >>> 0, max);
  if (all !== null) return all;
  let n = 0;
  while (n < max && cpu.peekLinear((linear + n) >>> 0, 1) !== null) n++;
  return n === 0 ? new Uint8Array(0) : cpu.peekLinear(linear >>> 0, n)!;
}

/** Decode `bytes` as the instruction at offset `eip` of a code segment (32-bit unless `code32` is false). */
export function disassembleBytes(bytes: Uint8Array, eip: number, code32 = true): { len: number; text: string } {
  const s = scratchCpu();
  s.mem.fill(0, 0, 64);
  s.mem.writeBytes(0, bytes.subarray(0, MAX_INSN));
  s.loadSegCache(Seg.CS, 0x08, (-eip) | 0, 0xffffffff, flatAttr(true, 0) & ~(code32 ? 0 : SA.DB));
  try {
    const insn = decode(s, OPCODES, eip | 0);
    if (insn.len > bytes.length) return { len: insn.len, text: '(instruction runs into unreadable memory)' };
    return { len: insn.len, text: disassemble(insn, { code32, bytes: bytes.subarray(0, insn.len) }) };
  } catch (e) {
    if (e instanceof CpuFault) return { len: Math.min(bytes.length, MAX_INSN), text: '(bad: longer than 15 bytes)' };
    throw e;
  }
}

/**
 * Disassemble the instruction at CS:`eip` of `cpu` (its current CS base
 * and code size unless given). Null when its first byte is unmapped.
 */
export function disassembleAt(cpu: Cpu, eip: number, csBase = cpu.segBase[Seg.CS]!, code32 = cpu.code32): DisassembledInsn | null {
  const linear = (csBase + eip) >>> 0;
  const bytes = peekUpTo(cpu, linear, MAX_INSN);
  if (bytes.length === 0) return null;
  const { len, text } = disassembleBytes(bytes, eip >>> 0, code32);
  return { linear, bytes: bytes.subarray(0, Math.min(len, bytes.length)), text };
}
