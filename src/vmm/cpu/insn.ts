/**
 * The decoded instruction and the declarative opcode-table types.
 *
 * An `Insn` is produced once by the decoder and cached in a block; its
 * fields are plain data (no closures over decode state), so the same record
 * can drive the interpreter (`exec`), the disassembler used by traces and
 * crash reports, and a future translator that emits JavaScript per block.
 * Every field is always present and numeric/boolean so V8 keeps one shape.
 */
import type { Cpu } from './cpu.js';

/** Semantic function of one instruction form. */
export type ExecFn = (cpu: Cpu, i: Insn) => void;

/** Immediate-operand kinds. */
export const enum Imm {
  NONE = 0,
  /** imm8, zero-extended. */
  B = 1,
  /** imm8, sign-extended to the operand size. */
  SB = 2,
  /** imm16. */
  W = 3,
  /** imm16 or imm32 by operand size. */
  Z = 4,
  /** rel8 branch: `target` = next + sext(imm8). */
  J8 = 5,
  /** rel16/32 branch by operand size. */
  JZ = 6,
  /** far pointer ptr16:16 / ptr16:32: imm = offset, imm2 = selector. */
  AP = 7,
  /** ENTER: imm = imm16 frame size, imm2 = imm8 nesting level. */
  IWIB = 8,
  /** moffs: a displacement of address size, no ModRM (MOV AL, [moffs]). */
  MOFFS = 9,
  /** imm16 or imm32 by operand size, plus imm8 in imm2 (none used today). */
}

/** Per-definition flag bits. */
export const enum D {
  /** Ends the block (control transfer, mode change, exit). */
  ENDS = 1,
  /** ModRM must encode memory (mod != 3), else #UD. */
  MEM_ONLY = 2,
  /** ModRM must encode a register (mod == 3), else #UD. */
  REG_ONLY = 4,
  /** LOCK prefix is legal (with a memory destination). */
  LOCKABLE = 8,
  /** Operand size is fixed (byte or irrelevant): no 0x66 variant. */
  BYTE = 16,
  /**
   * ModRM.mod is ignored: r/m always names a general register and no SIB or
   * displacement follows (MOV to/from CRn/DRn, SDM vol. 2 "MOV—Move to/from
   * Control Registers"). The decoder treats the byte as if mod were 3.
   */
  MOD_REG = 32,
}

/** One instruction form of the opcode table. */
export interface OpDef {
  /** Mnemonic for disassembly (AT&T-free Intel style, lower case). */
  readonly name: string;
  readonly modrm?: boolean;
  readonly imm?: Imm;
  /** Semantics with a 32-bit operand size (or for any size when exec16 is absent). */
  readonly exec: ExecFn;
  /** Semantics with a 16-bit operand size (0x66 in 32-bit code). */
  readonly exec16?: ExecFn;
  readonly flags?: number;
  /**
   * Purely descriptive operand shapes for the disassembler, comma-separated
   * in Intel SDM vol. 2 appendix A notation ('Ev,Gv', 'Gv,Ev', 'Eb,Ib',
   * 'Jz', 'eAX', ...); see disasm.ts for the accepted codes. Absent: the
   * disassembler falls back to its own opcode map, then to raw bytes.
   */
  readonly operands?: string;
}

/**
 * A table slot: a plain form, a ModRM.reg group, or a resolver for the
 * irregular 0F 01-style encodings that depend on the whole ModRM byte.
 */
export type OpEntry =
  | { readonly kind: 'op'; readonly def: OpDef }
  | { readonly kind: 'group'; readonly sub: readonly (OpDef | null)[] }
  | { readonly kind: 'resolve'; readonly resolve: (modrm: number) => OpDef | null };

export class Insn {
  exec: ExecFn;
  def: OpDef;
  /** Offset of the first byte within CS. */
  eip = 0;
  /** Offset of the next instruction within CS. */
  next = 0;
  len = 0;
  /** Opcode: 0x00-0xff, 0x0f00-0x0fff, 0x0f3800-0x0f38ff, 0x0f3a00-0x0f3aff. */
  op = 0;
  /** Operand size is 16 bits. */
  o16 = false;
  /** Address size is 16 bits. */
  a16 = false;
  /** Effective segment of the memory operand (Seg.*). */
  seg = 3;
  /** A segment-override prefix was present. */
  segOverride = false;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  lock = false;
  hasModrm = false;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Memory operand: base and index registers (-1 none), scale shift, displacement. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  imm = 0;
  imm2 = 0;
  /** Byte-view index (Cpu.r8) of ModRM.reg as an 8-bit register. */
  rb = 0;
  /** Byte-view index of ModRM.rm as an 8-bit register (mod == 3). */
  rmb = 0;
  /** Branch target offset within CS for relative branches. */
  target = 0;

  constructor(exec: ExecFn, def: OpDef) {
    this.exec = exec;
    this.def = def;
  }
}
