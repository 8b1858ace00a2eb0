/**
 * ALU family against the host CPU: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP, TEST,
 * INC/DEC, NOT/NEG in 8/16/32-bit register, memory and immediate forms.
 */
import { describe, expect, it } from 'vitest';
import { diffSuite, EDGE32, rng, FLAGS_ALL, type DiffCase } from './harness.js';

const OPS = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
// AF is undefined after AND/OR/XOR/TEST (SDM); compare it anyway: we match the host.
const CF_SET = [0, 1];

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0xa1a1);
  for (const op of OPS) {
    for (const a of EDGE32) for (const b of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x8000, 0x80]) {
      for (const cf of CF_SET) {
        out.push({ name: `${op}l ${a.toString(16)},${b.toString(16)} cf=${cf}`, code: `  ${op}l %ebx, %eax`, regs: { eax: a, ebx: b }, eflags: cf });
        out.push({ name: `${op}w ${a.toString(16)},${b.toString(16)} cf=${cf}`, code: `  ${op}w %bx, %ax`, regs: { eax: a, ebx: b }, eflags: cf });
        out.push({ name: `${op}b ${a.toString(16)},${b.toString(16)} cf=${cf}`, code: `  ${op}b %bh, %al`, regs: { eax: a, ebx: b << 8 }, eflags: cf });
      }
    }
    for (let k = 0; k < 40; k++) {
      const a = r(), b = r(), fl = r() & 0xcd5;
      out.push({ name: `${op} rnd mem32 ${k}`, code: `  ${op}l %ecx, 8(%esi)`, regs: { ecx: b, esi: 0x80000 }, mem: le32(0, 0, a), eflags: fl });
      out.push({ name: `${op} rnd reg<-mem16 ${k}`, code: `  ${op}w 2(%esi,%edi,2), %dx`, regs: { edx: b, esi: 0x80000, edi: 3 }, mem: le32(0, 0, a, r()), eflags: fl });
      out.push({ name: `${op} rnd imm8s ${k}`, code: `  ${op}l $${(r() & 0xff) - 128}, %edi`, regs: { edi: a }, eflags: fl });
      out.push({ name: `${op} rnd imm32 ${k}`, code: `  ${op}l $${b | 0}, %eax`, regs: { eax: a }, eflags: fl });
      out.push({ name: `${op} rnd mem8 imm ${k}`, code: `  ${op}b $${b & 0xff}, scratch+5`, mem: le32(a, a), eflags: fl });
      out.push({ name: `${op} rnd ah,ch ${k}`, code: `  ${op}b %ch, %ah`, regs: { eax: a, ecx: b }, eflags: fl });
    }
  }
  const unary = ['inc', 'dec', 'not', 'neg'];
  for (const op of unary) {
    for (const a of EDGE32) for (const cf of CF_SET) {
      out.push({ name: `${op}l ${a.toString(16)} cf=${cf}`, code: `  ${op}l %edx`, regs: { edx: a }, eflags: cf });
      out.push({ name: `${op}w ${a.toString(16)}`, code: `  ${op}w %dx`, regs: { edx: a }, eflags: cf | 0x800 });
      out.push({ name: `${op}b ${a.toString(16)}`, code: `  ${op}b %dh`, regs: { edx: a }, eflags: cf | 0x80 });
      out.push({ name: `${op}l mem ${a.toString(16)}`, code: `  ${op}l scratch+16`, mem: le32(0, 0, 0, 0, a), eflags: cf });
    }
  }
  for (let k = 0; k < 60; k++) {
    const a = r(), b = r();
    out.push({ name: `test rnd ${k}`, code: `  testl %eax, %ebx`, regs: { eax: a, ebx: k < 30 ? b : a & ~b }, eflags: r() & 0xcd5 });
    out.push({ name: `test imm ${k}`, code: `  testw $${b & 0xffff}, %ax`, regs: { eax: a }, eflags: r() & 0xcd5 });
    out.push({ name: `test mem8 ${k}`, code: `  testb $${b & 0xff}, scratch+1`, mem: le32(a), eflags: r() & 0xcd5 });
  }
  return out;
}

function le32(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return b;
}

describe('ALU family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('alu', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('alu', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  void FLAGS_ALL;
});
