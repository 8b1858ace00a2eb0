/**
 * The disassembler (src/vmm/cpu/disasm.ts) on a sample.
 *
 * 1. Against binutils: a sample of instructions is assembled with `as`
 *    and our text must equal `objdump -M intel`'s after normalising case,
 *    separators (", "), symbol annotations and REP spellings. Operands are
 *    compared for every sample line; the mnemonic only for the families
 *    whose names this project fixes here (misc, fpu, alu, mov, control) —
 *    other families choose their own mnemonics.
 * 2. Hand-written expectations for the documented layout and for the
 *    fallbacks: no operand shape (mnemonic plus raw bytes), undecodable
 *    bytes, 16-bit code, PAUSE, 3DNow! suffixes, compare predicates.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/vmm/cpu/decoder.js';
import { OPCODES } from '../../src/vmm/cpu/opcodes.js';
import { disassemble } from '../../src/vmm/cpu/disasm.js';
import { Insn } from '../../src/vmm/cpu/insn.js';
import { cpuWithCode, objdump } from './objdump.js';

/** [AT&T source, compare the mnemonic too]. */
const SAMPLE: [string, boolean][] = [
  // misc
  ['xchgl %eax, %ebx', true], ['xchgl %ecx, 8(%esi)', true], ['lock xchgb %al, (%ebx,%edi,4)', true],
  ['xchgw %si, %ax', true], ['cmpxchgl %ecx, 0x10(%ebx,%esi,4)', true], ['lock cmpxchgb %ah, -4(%ebp)', true],
  ['cmpxchgw %dx, %bx', true], ['cmpxchg8b (%esi)', true], ['lock cmpxchg8b %fs:8(%eax)', true],
  ['xaddl %eax, (%ecx)', true], ['xaddb %dh, %bl', true], ['lahf', true], ['sahf', true], ['xlat', true],
  ['xlat %es:(%ebx)', true], ['clc', true], ['stc', true], ['cmc', true], ['cld', true], ['std', true],
  ['nopl 0x0(%eax)', true], ['nopw 0x0(%eax,%eax,1)', true], ['prefetchnta (%eax)', true], ['prefetcht2 0x1000', true],
  ['prefetchw 4(%ebx)', true], ['ud2', true], ['cpuid', true], ['rdtsc', true], ['nop', true], ['pause', true],
  // alu / mov / control
  ['addl %ebx, %eax', true], ['subl $-1, %eax', true], ['andw $0x1234, (%bx,%si)', true], ['cmpb $7, 0x80000', true],
  ['orl $0x11223344, 0x10(%ebx,%ecx,4)', true], ['lock incl (%ecx)', true], ['negw (%ebx)', true],
  ['movl 0x1234, %eax', true], ['movb %fs:0x10, %al', true], ['movl %eax, -0x10(%ebp)', true],
  ['movl (%esp), %ecx', true], ['movl 4(%esp,%eax,1), %ecx', true], ['movl 0x10(,%esi,4), %ecx', true],
  ['movl %ds:(%ebp), %eax', true], ['movw %es, (%ebx)', true], ['movl %eax, %ds', true], ['leal 4(%eax,%ebx,8), %ecx', true],
  ['movzbl %al, %eax', true], ['movswl (%eax), %edx', true], ['movb $1, %ah', true], ['movl $0x12345678, %edi', true],
  ['jne 1f', true], ['jmp 1f', true], ['call 1f', true], ['1:', true], ['call *%eax', true], ['jmp *8(%ebx,%esi,4)', true],
  ['ret $8', true], ['jecxz 1b', true],
  // other families: operands only
  ['shll $4, %eax', false], ['rorw %cl, (%eax)', false], ['shldl $3, %ebx, %eax', false], ['imull $-3, %ecx, %edx', false],
  ['btsl $5, (%eax)', false], ['setne %al', false], ['cmovsl %eax, %ebx', false], ['bswap %ecx', false],
  ['pushl $-1', false], ['pushl (%eax)', false], ['pushl %fs', false], ['enter $16, $1', false], ['int $0x80', false],
  ['inb $0x60, %al', false], ['outl %eax, (%dx)', false], ['lcall $0x10, $0x1234', false], ['ljmp *(%eax)', false],
  ['lssl (%eax), %esp', false], ['boundl %eax, (%ecx)', false], ['movl %cr0, %eax', false], ['movl %eax, %db7', false],
  ['sldt %eax', false], ['lldt %ax', false], ['invlpg (%eax)', false], ['rep stosl', false], ['movsb', false],
  ['lodsl %cs:(%esi), %eax', false], ['aam $0xa', false],
  // x87
  ['fadds (%eax)', true], ['faddl 8(%ebx)', true], ['fiaddl (%esi,%edi,2)', true], ['fiadds 0x1234', true],
  ['fadd %st(1), %st', true], ['fcom %st(3)', true], ['.byte 0xdc, 0xe1', true], ['.byte 0xde, 0xf9', true],
  ['fld %st(1)', true], ['fxch %st(2)', true], ['fldt (%eax)', true], ['fildll (%eax)', true], ['fnstenv (%eax)', true],
  ['fnstcw (%eax)', true], ['fnstsw %ax', true], ['fucomi %st(1), %st', true], ['fcmovne %st(1), %st', true],
  ['ffree %st(1)', true], ['fstp %st(3)', true], ['fsincos', true], ['fninit', true], ['fwait', true], ['nop', true],
  // SSE / MMX / 3DNow!
  ['addps %xmm1, %xmm0', true], ['addss (%eax), %xmm2', true], ['addpd %xmm1, %xmm0', true], ['movsd 8(%eax), %xmm3', true],
  ['movhlps %xmm1, %xmm0', true], ['movlps (%eax), %xmm0', true], ['cvtsi2ss %eax, %xmm0', true],
  ['cvttsd2si (%eax), %ecx', true], ['cvtps2pd (%eax), %xmm0', true], ['punpcklbw (%eax), %mm0', true],
  ['movd %eax, %mm1', true], ['movd (%eax), %xmm1', true], ['movq %xmm1, %xmm2', true], ['movq (%eax), %mm1', true],
  ['movdqa %xmm0, (%eax)', true], ['pshufd $0x1b, %xmm1, %xmm0', true], ['psrlw $2, %mm1', true],
  ['psrldq $4, %xmm1', true], ['cmpps $1, %xmm1, %xmm0', true], ['cmppd $9, %xmm1, %xmm0', true],
  ['pinsrw $1, %eax, %mm0', true], ['pinsrw $1, (%eax), %xmm0', true], ['pextrw $1, %mm0, %eax', true],
  ['pmovmskb %xmm1, %eax', true], ['movntq %mm0, (%eax)', true], ['maskmovq %mm1, %mm0', true],
  ['movdq2q %xmm1, %mm0', true], ['pfadd %mm1, %mm0', true], ['pfmul (%eax), %mm2', true], ['fxsave (%eax)', true],
  ['ldmxcsr (%eax)', true], ['clflush (%eax)', true], ['lfence', true], ['pshufb %xmm1, %xmm0', true],
  ['pblendvb %xmm0, %xmm1, %xmm2', true], ['pmovzxbd (%eax), %xmm0', true], ['palignr $3, %mm1, %mm0', true],
  ['pextrb $1, %xmm0, (%eax)', true], ['pextrb $1, %xmm0, %eax', true], ['pinsrd $1, (%eax), %xmm0', true],
  ['pclmulqdq $0x11, %xmm1, %xmm0', true], ['pcmpistri $4, 0x10(%eax,%ecx,8), %xmm0', true],
  ['aeskeygenassist $1, %xmm1, %xmm0', true], ['crc32b %al, %ecx', true], ['movbe (%eax), %ecx', true],
  ['vmread %eax, %ebx', true], ['movnti %eax, (%ebx)', true], ['addps %fs:(%eax), %xmm0', true],
];

/** objdump's text in our layout: lower case, ", " separators, no symbols, repe/repne. */
function normalise(t: string): string {
  return t.replace(/\s*<[^>]*>$/, '').replace(/\s+/, ' ').replace(/,/g, ', ').toLowerCase()
    .replace(/^repz /, 'repe ').replace(/^repnz /, 'repne ').trim();
}

function split(t: string): { mn: string; ops: string } {
  const words = t.split(' ');
  const pre: string[] = [];
  while (words.length > 1 && ['lock', 'rep', 'repe', 'repne'].includes(words[0]!)) pre.push(words.shift()!);
  const mn = [...pre, words.shift()!];
  if (words[0] === 'far') mn.push(words.shift()!); // 'call far' / 'jmp far' style names
  return { mn: mn.join(' '), ops: words.join(' ') };
}

describe('disassembler', () => {
  it(`matches objdump -M intel on ${SAMPLE.length} sample lines`, () => {
    const src = SAMPLE.map(([l]) => (l.endsWith(':') ? l : `  ${l}`)).join('\n');
    const { insns, code } = objdump(src);
    const cpu = cpuWithCode(code);
    const lines = SAMPLE.filter(([l]) => !l.endsWith(':'));
    expect(insns.length).toBe(lines.length);
    const diffs: string[] = [];
    insns.forEach((o, k) => {
      const ours = disassemble(decode(cpu, OPCODES, o.addr));
      const theirs = normalise(o.text);
      const a = split(ours), b = split(theirs);
      const withName = lines[k]![1];
      if (a.ops !== b.ops || (withName && a.mn !== b.mn)) diffs.push(`${lines[k]![0]}: ours "${ours}" objdump "${theirs}"`);
    });
    expect(diffs).toEqual([]);
  });

  const dis = (bytes: number[], code16 = false): string => {
    const cpu = cpuWithCode(new Uint8Array([...bytes, 0x90, 0x90]), code16);
    const i = decode(cpu, OPCODES, 0);
    return disassemble(i, { code32: !code16, bytes: new Uint8Array(bytes.slice(0, i.len)) });
  };

  it('prints the documented layout', () => {
    expect(dis([0xf0, 0x0f, 0xb1, 0x4c, 0xb3, 0x10])).toBe('lock cmpxchg dword ptr [ebx+esi*4+0x10], ecx');
    expect(dis([0x64, 0x87, 0x03])).toBe('xchg dword ptr fs:[ebx], eax');
    expect(dis([0x8b, 0x0d, 0x34, 0x12, 0x00, 0x00])).toBe('mov ecx, dword ptr ds:0x1234');
    expect(dis([0x2e, 0xa1, 0x34, 0x12, 0x00, 0x00])).toBe('mov eax, cs:0x1234');
    expect(dis([0x8b, 0x45, 0xf0])).toBe('mov eax, dword ptr [ebp-0x10]');
    expect(dis([0x0f, 0x1f, 0x40, 0x00])).toBe('nop dword ptr [eax+0x0]');
    expect(dis([0x83, 0xc0, 0xff])).toBe('add eax, 0xffffffff');
    expect(dis([0x66, 0x83, 0xc0, 0xff])).toBe('add ax, 0xffff');
    expect(dis([0xeb, 0x10])).toBe('jmp 0x12');
    expect(dis([0xd7])).toBe('xlat byte ptr ds:[ebx]');
    expect(dis([0x67, 0xd7])).toBe('xlat byte ptr ds:[bx]');
    expect(dis([0x0f, 0xc7, 0x0e])).toBe('cmpxchg8b qword ptr [esi]');
    expect(dis([0x9b])).toBe('fwait');
  });

  it('names prefix-dependent SSE forms, PAUSE, 3DNow! suffixes and compare predicates', () => {
    expect(dis([0x0f, 0x58, 0xc1])).toBe('addps xmm0, xmm1');
    expect(dis([0x66, 0x0f, 0x58, 0xc1])).toBe('addpd xmm0, xmm1');
    expect(dis([0xf3, 0x0f, 0x58, 0xc1])).toBe('addss xmm0, xmm1');
    expect(dis([0xf2, 0x0f, 0x58, 0x00])).toBe('addsd xmm0, qword ptr [eax]');
    expect(dis([0x66, 0xf3, 0x0f, 0x58, 0xc1])).toBe('addss xmm0, xmm1');
    expect(dis([0x0f, 0x12, 0xc1])).toBe('movhlps xmm0, xmm1');
    expect(dis([0x0f, 0x12, 0x00])).toBe('movlps xmm0, qword ptr [eax]');
    expect(dis([0xf3, 0x90])).toBe('pause');
    expect(dis([0x0f, 0x0f, 0xc1, 0xb4])).toBe('pfmul mm0, mm1');
    expect(dis([0x0f, 0xc2, 0xc1, 0x04])).toBe('cmpneqps xmm0, xmm1');
    expect(dis([0xf2, 0x0f, 0xc2, 0xc1, 0x09])).toBe('cmpsd xmm0, xmm1, 0x9');
    expect(dis([0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x01])).toBe('pclmulhqlqdq xmm0, xmm1');
    expect(dis([0x0f, 0x73, 0xf9, 0x02])).toBe('(bad) 0f 73 f9 02');
  });

  it('uses 16-bit registers and addressing in 16-bit code, where 66 still selects the 66 form', () => {
    expect(dis([0x8b, 0x40, 0x10], true)).toBe('mov ax, word ptr [bx+si+0x10]');
    expect(dis([0x0f, 0x6f, 0xc1], true)).toBe('movq mm0, mm1');
    expect(dis([0x66, 0x0f, 0x6f, 0xc1], true)).toBe('movdqa xmm0, xmm1');
    expect(dis([0x66, 0x87, 0x07], true)).toBe('xchg dword ptr [bx], eax');
    expect(dis([0xd7], true)).toBe('xlat byte ptr ds:[bx]');
  });

  it('falls back to the mnemonic plus raw bytes without an operand shape', () => {
    const i = new Insn(() => {}, { name: 'frob', exec: () => {} });
    i.op = 0x0f3b; // no built-in shape for this slot
    expect(disassemble(i, { bytes: new Uint8Array([0x0f, 0x3b]) })).toBe('frob (bytes: 0f 3b)');
    expect(disassemble(i)).toBe('frob');
    const j = new Insn(() => {}, { name: 'frob', operands: 'Gv,Ev', exec: () => {} });
    j.hasModrm = true; j.mod = 3; j.reg = 1; j.rm = 2;
    expect(disassemble(j)).toBe('frob ecx, edx');
  });

  it('prints undecodable bytes as (bad)', () => {
    expect(dis([0x0f, 0x04])).toBe('(bad) 0f 04');
    expect(dis([0xf0, 0x90])).toBe('(bad) f0 90');
  });
});
