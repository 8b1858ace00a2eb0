/**
 * Bit instructions: BT/BTS/BTR/BTC (0F A3/AB/B3/BB with a register bit
 * offset, 0F BA /4-/7 with an imm8 offset), BSF/BSR (0F BC/BD), SETcc
 * (0F 90-9F), CMOVcc (0F 40-4F) and BSWAP (0F C8-CF).
 *
 * Semantics follow Intel SDM vol. 2A/2B ("BT", "BTS", "BTR", "BTC", "BSF",
 * "BSR", "SETcc", "CMOVcc", "BSWAP") and AMD APM vol. 3:
 *
 *  - Bit offsets. With a register operand, or with an immediate offset, the
 *    offset is taken modulo the operand size. With a memory operand and a
 *    register offset, the offset is a signed 16/32-bit integer addressing a
 *    bit string that starts at bit 0 of the byte at the effective address:
 *    the operand-size unit at EA + 2*(offset >> 4) (16-bit) or
 *    EA + 4*(offset >> 5) (32-bit) is accessed, bit offset & 15 / & 31 of
 *    it. That sum is part of the effective address, so it wraps at 64 KiB
 *    with a 16-bit address size, and it is what the segment-limit check
 *    sees. LOCK is accepted on the memory forms of BTS/BTR/BTC.
 *  - CMOVcc always reads its source (a memory source may fault even when the
 *    condition is false); with a false condition the destination is left
 *    untouched (32-bit mode: no zero-extension of anything).
 *
 * Flags the SDM leaves undefined are set as on AMD processors (checked by
 * the differential tests against an AMD EPYC host):
 *
 *  - BT/BTS/BTR/BTC: CF = the selected bit; OF, SF, ZF, AF, PF unchanged.
 *  - BSF/BSR, source non-zero: ZF = 0, PF = parity of the resulting bit
 *    index, CF = OF = SF = AF = 0.
 *  - BSF/BSR, source zero: ZF = 1, PF = 1, CF = OF = SF = AF = 0, and the
 *    destination register is unchanged (documented by AMD).
 *  - BSWAP with a 16-bit operand size (Intel: undefined): the low 16 bits of
 *    the register become 0 and the upper 16 bits are kept.
 *
 * The F3-prefixed forms of 0F BC/BD (TZCNT/LZCNT on processors with
 * BMI1/ABM) execute as BSF/BSR here, as on processors without those
 * extensions; the CPU does not advertise them.
 */
import type { Cpu } from '../cpu.js';
import { ARITH, CF, PF, ZF, PARITY, testCC } from '../flags.js';
import { D, Imm, type ExecFn, type Insn } from '../insn.js';
import { ea, laR, laW, rmRead16, rmRead32, segR, segW } from '../operands.js';
import type { OpTable } from '../table.js';
import { CC_NAMES } from './control.js';

/** BT* operation kinds: ModRM.reg - 4 of 0F BA, and bits 3-4 of 0F A3/AB/B3/BB. */
const enum Bt { TEST = 0, SET = 1, RESET = 2, COMPLEMENT = 3 }

/** Apply a BT* operation to `v` with single-bit mask `m`. */
function btApply(op: Bt, v: number, m: number): number {
  switch (op) {
    case Bt.SET: return v | m;
    case Bt.RESET: return v & ~m;
    case Bt.COMPLEMENT: return v ^ m;
    default: return v;
  }
}

/** BT* flags: CF is the selected bit; every other flag keeps its (possibly lazy) value. */
function btFlags(c: Cpu, bit: number): void {
  c.flags = (c.flags & ~CF) | bit;
  c.lfLazy &= ~CF;
}

/**
 * Offset within the segment of the memory unit addressed by a register bit
 * offset: EA plus `delta` bytes, wrapped to the address size.
 */
function btOffset(c: Cpu, i: Insn, delta: number): number {
  const o = ea(c, i) + delta;
  return i.a16 ? o & 0xffff : o | 0;
}

/** BT* r/m16, r16 (0F A3/AB/B3/BB with a 16-bit operand size). */
function btRegOff16(op: Bt): ExecFn {
  return (c, i) => {
    // The offset register is read before anything is written (it may also be the base).
    const off = (c.r16[i.reg << 1]! << 16) >> 16;
    const m = 1 << (off & 15);
    if (i.mod === 3) {
      const v = c.r16[i.rm << 1]!;
      if (op !== Bt.TEST) c.r16[i.rm << 1] = btApply(op, v, m);
      btFlags(c, (v & m) !== 0 ? 1 : 0);
      return;
    }
    const o = btOffset(c, i, (off >> 4) << 1);
    let v: number;
    if (op === Bt.TEST) {
      v = c.rd16(segR(c, i.seg, o, 2));
    } else {
      const la = segW(c, i.seg, o, 2);
      c.probeW(la, 2);
      v = c.rd16(la);
      c.wr16(la, btApply(op, v, m));
    }
    btFlags(c, (v & m) !== 0 ? 1 : 0);
  };
}

/** BT* r/m32, r32 (0F A3/AB/B3/BB). */
function btRegOff32(op: Bt): ExecFn {
  return (c, i) => {
    const off = c.r32[i.reg]!;
    const m = 1 << (off & 31);
    if (i.mod === 3) {
      const v = c.r32[i.rm]!;
      if (op !== Bt.TEST) c.r32[i.rm] = btApply(op, v, m);
      btFlags(c, (v & m) !== 0 ? 1 : 0);
      return;
    }
    const o = btOffset(c, i, (off >> 5) << 2);
    let v: number;
    if (op === Bt.TEST) {
      v = c.rd32(segR(c, i.seg, o, 4));
    } else {
      const la = segW(c, i.seg, o, 4);
      c.probeW(la, 4);
      v = c.rd32(la);
      c.wr32(la, btApply(op, v, m));
    }
    btFlags(c, (v & m) !== 0 ? 1 : 0);
  };
}

/** BT* r/m16, imm8 (0F BA /4-/7, 16-bit operand size): offset modulo 16, no address adjustment. */
function btImm16(op: Bt): ExecFn {
  return (c, i) => {
    const m = 1 << (i.imm & 15);
    if (i.mod === 3) {
      const v = c.r16[i.rm << 1]!;
      if (op !== Bt.TEST) c.r16[i.rm << 1] = btApply(op, v, m);
      btFlags(c, (v & m) !== 0 ? 1 : 0);
      return;
    }
    let v: number;
    if (op === Bt.TEST) {
      v = c.rd16(laR(c, i, 2));
    } else {
      const la = laW(c, i, 2);
      c.probeW(la, 2);
      v = c.rd16(la);
      c.wr16(la, btApply(op, v, m));
    }
    btFlags(c, (v & m) !== 0 ? 1 : 0);
  };
}

/** BT* r/m32, imm8 (0F BA /4-/7): offset modulo 32. */
function btImm32(op: Bt): ExecFn {
  return (c, i) => {
    const m = 1 << (i.imm & 31);
    if (i.mod === 3) {
      const v = c.r32[i.rm]!;
      if (op !== Bt.TEST) c.r32[i.rm] = btApply(op, v, m);
      btFlags(c, (v & m) !== 0 ? 1 : 0);
      return;
    }
    let v: number;
    if (op === Bt.TEST) {
      v = c.rd32(laR(c, i, 4));
    } else {
      const la = laW(c, i, 4);
      c.probeW(la, 4);
      v = c.rd32(la);
      c.wr32(la, btApply(op, v, m));
    }
    btFlags(c, (v & m) !== 0 ? 1 : 0);
  };
}

/** BSF/BSR flags for a non-zero source: only PF (parity of the index) can be set. */
function bsFlags(c: Cpu, idx: number): void {
  c.flags = (c.flags & ~ARITH) | PARITY[idx]!;
  c.lfLazy = 0;
}

/** BSF/BSR flags for a zero source (destination unchanged). */
function bsZero(c: Cpu): void {
  c.flags = (c.flags & ~ARITH) | ZF | PF;
  c.lfLazy = 0;
}

const bsf16: ExecFn = (c, i) => {
  const s = rmRead16(c, i);
  if (s === 0) { bsZero(c); return; }
  const idx = 31 - Math.clz32(s & -s);
  c.r16[i.reg << 1] = idx;
  bsFlags(c, idx);
};
const bsf32: ExecFn = (c, i) => {
  const s = rmRead32(c, i);
  if (s === 0) { bsZero(c); return; }
  const idx = 31 - Math.clz32(s & -s);
  c.r32[i.reg] = idx;
  bsFlags(c, idx);
};
const bsr16: ExecFn = (c, i) => {
  const s = rmRead16(c, i);
  if (s === 0) { bsZero(c); return; }
  const idx = 31 - Math.clz32(s);
  c.r16[i.reg << 1] = idx;
  bsFlags(c, idx);
};
const bsr32: ExecFn = (c, i) => {
  const s = rmRead32(c, i);
  if (s === 0) { bsZero(c); return; }
  const idx = 31 - Math.clz32(s);
  c.r32[i.reg] = idx;
  bsFlags(c, idx);
};

const BT_NAMES = ['bt', 'bts', 'btr', 'btc'];

/** Register BT*, BSF/BSR, SETcc, CMOVcc and BSWAP. */
export function register(t: OpTable): void {
  for (let op = 0; op < 4; op++) {
    const name = BT_NAMES[op]!;
    // BT only reads its operand, so LOCK BT is #UD; the others are read-modify-write.
    const lockable = op === Bt.TEST ? 0 : D.LOCKABLE;
    t.op(0x0fa3 + (op << 3), { name, modrm: true, exec: btRegOff32(op), exec16: btRegOff16(op), flags: lockable });
    t.group(0x0fba, 4 + op, { name, imm: Imm.B, exec: btImm32(op), exec16: btImm16(op), flags: lockable });
  }
  t.op(0x0fbc, { name: 'bsf', modrm: true, exec: bsf32, exec16: bsf16 });
  t.op(0x0fbd, { name: 'bsr', modrm: true, exec: bsr32, exec16: bsr16 });

  for (let cc = 0; cc < 16; cc++) {
    const suffix = CC_NAMES[cc]!;
    t.op(0x0f90 + cc, {
      name: `set${suffix}`, modrm: true, flags: D.BYTE,
      exec: (c, i) => {
        // ModRM.reg is ignored. The condition is evaluated first; only the store can fault.
        const v = testCC(c, cc) ? 1 : 0;
        if (i.mod === 3) c.r8[i.rmb] = v;
        else c.wr8(laW(c, i, 1), v);
      },
    });
    t.op(0x0f40 + cc, {
      name: `cmov${suffix}`, modrm: true,
      exec: (c, i) => {
        const v = i.mod === 3 ? c.r32[i.rm]! : c.rd32(laR(c, i, 4));
        if (testCC(c, cc)) c.r32[i.reg] = v;
      },
      exec16: (c, i) => {
        const v = i.mod === 3 ? c.r16[i.rm << 1]! : c.rd16(laR(c, i, 2));
        if (testCC(c, cc)) c.r16[i.reg << 1] = v;
      },
    });
  }

  for (let r = 0; r < 8; r++) {
    t.op(0x0fc8 + r, {
      name: 'bswap',
      exec: (c) => {
        const v = c.r32[r]!;
        c.r32[r] = (v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24);
      },
      // 16-bit operand size: undefined per Intel; AMD clears the low word.
      exec16: (c) => { c.r16[r << 1] = 0; },
    });
  }
}
