/**
 * Data movement: MOV (88-8C, A0-A3, B0-BF, C6/C7), LEA (8D), MOVZX/MOVSX
 * (0F B6/B7/BE/BF). No flags are affected.
 *
 * MOV to a segment register (8E) lives with the segment loads in
 * system.ts; MOV from one (8C) is here: with a register destination and a
 * 32-bit operand size it zero-extends the selector (the upper half is 0 on
 * every processor since the Pentium Pro), a memory destination is always a
 * 16-bit store.
 */
import { D, Imm, type ExecFn } from '../insn.js';
import { ea, laR, laW, rmRead16, rmRead32, rmRead8, rmWrite16, rmWrite32, rmWrite8, segR, segW } from '../operands.js';
import type { OpTable } from '../table.js';

export function register(t: OpTable): void {
  t.op(0x88, { name: 'mov', modrm: true, exec: (c, i) => { rmWrite8(c, i, c.r8[i.rb]!); }, flags: D.BYTE });
  t.op(0x89, {
    name: 'mov', modrm: true,
    exec: (c, i) => {
      if (i.mod === 3) c.r32[i.rm] = c.r32[i.reg]!;
      else c.wr32(laW(c, i, 4), c.r32[i.reg]!);
    },
    exec16: (c, i) => { rmWrite16(c, i, c.r16[i.reg << 1]!); },
  });
  t.op(0x8a, { name: 'mov', modrm: true, exec: (c, i) => { c.r8[i.rb] = rmRead8(c, i); }, flags: D.BYTE });
  t.op(0x8b, {
    name: 'mov', modrm: true,
    exec: (c, i) => { c.r32[i.reg] = i.mod === 3 ? c.r32[i.rm]! : c.rd32(laR(c, i, 4)); },
    exec16: (c, i) => { c.r16[i.reg << 1] = rmRead16(c, i); },
  });
  t.op(0x8c, {
    name: 'mov', modrm: true,
    exec: (c, i) => {
      if (i.reg > 5) c.fault(6);
      const sel = c.segSel[i.reg]!;
      if (i.mod === 3) c.r32[i.rm] = sel;
      else c.wr16(laW(c, i, 2), sel);
    },
    exec16: (c, i) => {
      if (i.reg > 5) c.fault(6);
      rmWrite16(c, i, c.segSel[i.reg]!);
    },
  });
  // LEA: the offset only, truncated to the operand size; no memory access.
  t.op(0x8d, {
    name: 'lea', modrm: true, flags: D.MEM_ONLY,
    exec: (c, i) => { c.r32[i.reg] = ea(c, i); },
    exec16: (c, i) => { c.r16[i.reg << 1] = ea(c, i); },
  });

  // moffs forms: the segment is DS unless overridden.
  t.op(0xa0, { name: 'mov', imm: Imm.MOFFS, exec: (c, i) => { c.r8[0] = c.rd8(segR(c, i.seg, i.disp, 1)); }, flags: D.BYTE });
  t.op(0xa1, {
    name: 'mov', imm: Imm.MOFFS,
    exec: (c, i) => { c.r32[0] = c.rd32(segR(c, i.seg, i.disp, 4)); },
    exec16: (c, i) => { c.r16[0] = c.rd16(segR(c, i.seg, i.disp, 2)); },
  });
  t.op(0xa2, { name: 'mov', imm: Imm.MOFFS, exec: (c, i) => { c.wr8(segW(c, i.seg, i.disp, 1), c.r8[0]!); }, flags: D.BYTE });
  t.op(0xa3, {
    name: 'mov', imm: Imm.MOFFS,
    exec: (c, i) => { c.wr32(segW(c, i.seg, i.disp, 4), c.r32[0]!); },
    exec16: (c, i) => { c.wr16(segW(c, i.seg, i.disp, 2), c.r16[0]!); },
  });

  const R8 = [0, 4, 8, 12, 1, 5, 9, 13];
  for (let r = 0; r < 8; r++) {
    const b = R8[r]!;
    t.op(0xb0 + r, { name: 'mov', imm: Imm.B, exec: (c, i) => { c.r8[b] = i.imm; }, flags: D.BYTE });
    t.op(0xb8 + r, {
      name: 'mov', imm: Imm.Z,
      exec: (c, i) => { c.r32[r] = i.imm; },
      exec16: (c, i) => { c.r16[r << 1] = i.imm; },
    });
  }
  t.group(0xc6, 0, { name: 'mov', imm: Imm.B, exec: (c, i) => { rmWrite8(c, i, i.imm); }, flags: D.BYTE });
  t.group(0xc7, 0, {
    name: 'mov', imm: Imm.Z,
    exec: (c, i) => { rmWrite32(c, i, i.imm); },
    exec16: (c, i) => { rmWrite16(c, i, i.imm); },
  });

  // MOVZX / MOVSX
  const movzx8: ExecFn = (c, i) => { c.r32[i.reg] = rmRead8(c, i); };
  const movzx8_16: ExecFn = (c, i) => { c.r16[i.reg << 1] = rmRead8(c, i); };
  const movzx16: ExecFn = (c, i) => { c.r32[i.reg] = rmRead16(c, i); };
  const movzx16_16: ExecFn = (c, i) => { c.r16[i.reg << 1] = rmRead16(c, i); };
  const movsx8: ExecFn = (c, i) => { c.r32[i.reg] = (rmRead8(c, i) << 24) >> 24; };
  const movsx8_16: ExecFn = (c, i) => { c.r16[i.reg << 1] = (rmRead8(c, i) << 24) >> 24; };
  const movsx16: ExecFn = (c, i) => { c.r32[i.reg] = (rmRead16(c, i) << 16) >> 16; };
  const movsx16_16: ExecFn = (c, i) => { c.r16[i.reg << 1] = rmRead16(c, i); };
  t.op(0x0fb6, { name: 'movzx', modrm: true, exec: movzx8, exec16: movzx8_16 });
  t.op(0x0fb7, { name: 'movzx', modrm: true, exec: movzx16, exec16: movzx16_16 });
  t.op(0x0fbe, { name: 'movsx', modrm: true, exec: movsx8, exec16: movsx8_16 });
  t.op(0x0fbf, { name: 'movsx', modrm: true, exec: movsx16, exec16: movsx16_16 });
  void rmRead32;
}
