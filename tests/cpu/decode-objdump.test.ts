/**
 * Decoder lengths and mnemonics against binutils.
 *
 * A few hundred instructions spanning every opcode family — integer, x87,
 * MMX/SSE/SSE2-4.2, 3DNow!, the 0F 38 and 0F 3A maps, AES/SHA/PCLMUL,
 * prefixes (66, 67 with 16-bit addressing, segment overrides, LOCK, REP),
 * plus a 16-bit code segment — are assembled with `as --32` and
 * disassembled with `objdump -d -M intel`. Our decoder walks the same bytes
 * from the same start addresses and must find exactly objdump's
 * instruction boundaries; where both sides name the instruction, the
 * mnemonics (as printed by our disassembler) must agree up to well-known
 * aliases (je/jz, shl/sal, movs/movsd, ...).
 *
 * Known, deliberate differences are excluded from the corpus rather than
 * papered over: 66/F2 0F 78 (AMD SSE4a EXTRQ/INSERTQ take two immediates;
 * we follow the Intel map, see families/fpu.ts) and FWAIT directly before
 * an FN* control instruction (objdump fuses the two into one line).
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/vmm/cpu/decoder.js';
import { OPCODES } from '../../src/vmm/cpu/opcodes.js';
import { disassemble } from '../../src/vmm/cpu/disasm.js';
import { cpuWithCode, objdump, type ObjdumpInsn } from './objdump.js';

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** The 32-bit corpus, by family. */
function corpus32(): Record<string, string[]> {
  const c: Record<string, string[]> = {};
  c.alu = [
    ...ALU.flatMap((op) => [
      `${op}b %bl, %al`, `${op}l %ecx, 8(%esi)`, `${op}w 2(%esi,%edi,2), %dx`, `${op}b $5, %al`,
      `${op}l $0x12345678, %eax`, `${op}w $0x1234, %ax`, `${op}l $-3, %edi`, `${op}b $7, scratch_label`,
      `${op}l $0x11223344, 0x10(%ebx,%ecx,4)`, `${op}w $-2, (%eax)`,
    ]),
    '.byte 0x82, 0xc0, 0x01', 'testl %eax, %ebx', 'testb $1, %ah', 'testw $0x100, (%eax)', 'testl $7, %eax',
    'incl %eax', 'decw %si', 'incb (%eax)', 'decl 4(%esp)', 'notl %eax', 'negw (%ebx)', 'lock addl %eax, (%ebx)',
    'lock incl (%ecx)', 'lock negb 3(%edx)',
  ];
  c.mov = [
    'movb %al, (%ebx)', 'movl %eax, %ebx', 'movw (%esi), %cx', 'movl 0x1234, %eax', 'movb 0x1234, %al',
    'movl %eax, 0x1234', 'movw %ax, %fs:0x10', 'movb $1, %ah', 'movl $0x12345678, %edi', 'movw $5, %dx',
    'movb $3, (%eax)', 'movl $9, 8(%ebp)', 'movw $9, (%eax)', 'leal 4(%eax,%ebx,8), %ecx', 'leaw (%esi), %di',
    'movzbl %al, %eax', 'movzwl (%eax), %ecx', 'movsbw %dl, %ax', 'movswl %ax, %edx', 'movl %ds, %eax',
    'movw %es, (%ebx)', 'movl %eax, %ds', 'movw (%eax), %ss', 'movl %cs:(%eax), %ecx', 'movl %ss:4(%ebp), %eax',
    'movl %es:(%edi), %eax', 'movl %gs:0x14, %eax',
  ];
  c.control = [
    ...CC.map((cc) => `j${cc} 1f`), ...CC.map((cc) => `j${cc} far_label`), 'jmp 1f', 'jmp far_label', 'call far_label',
    'call *%eax', 'call *(%eax)', 'jmp *%ebx', 'jmp *8(%ebx,%esi,4)', 'ret', 'ret $8', 'loop 1f', 'loope 1f',
    'loopne 1f', 'jecxz 1f', '1:', 'callw *%ax', 'retw',
  ];
  c.muldiv = [
    'mull %ecx', 'mulb (%eax)', 'imulw %bx', 'imull %eax, %ebx', 'imull (%eax), %ecx', 'imull $10, %ecx, %edx',
    'imull $1000, %ecx, %edx', 'imulw $-5, %ax, %bx', 'divl %ecx', 'divb %bl', 'idivl (%esi)', 'idivw %cx',
    'cbtw', 'cwtl', 'cwtd', 'cltd', 'aam', 'aad', '.byte 0xd4, 0x10', '.byte 0xd5, 0x08', 'daa', 'das', 'aaa', 'aas',
  ];
  c.shift = [
    ...SHIFTS.flatMap((op) => [`${op}l %eax`, `${op}b $3, %bl`, `${op}w %cl, (%eax)`, `${op}l $31, 4(%esi)`]),
    '.byte 0xd1, 0xf0', 'shldl $4, %ebx, %eax', 'shldw %cl, %bx, (%eax)', 'shrdl $1, %ecx, %edx', 'shrdl %cl, %eax, (%ebx)',
  ];
  c.bits = [
    'btl %eax, %ebx', 'btsl $5, (%eax)', 'btrw %cx, (%ebx)', 'btcl $31, %edx', 'bsfl %eax, %ebx', 'bsrw (%eax), %cx',
    ...CC.map((cc) => `set${cc} %al`), 'setne (%eax)', ...CC.map((cc) => `cmov${cc}l %eax, %ebx`), 'cmovew (%eax), %cx',
    'bswap %eax', 'bswap %edi', '.byte 0xd6',
  ];
  c.string = [
    'movsb', 'movsw', 'movsl', 'rep movsl', 'cmpsb', 'repe cmpsl', 'repne cmpsw', 'stosb', 'rep stosl', 'lodsb',
    'lodsl', 'scasb', 'repne scasb', 'repe scasl', 'insb', 'insl', 'rep insw', 'outsb', 'outsl', 'movsb %fs:(%esi), %es:(%edi)',
    'lodsl %cs:(%esi), %eax', 'addr16 movsb', 'addr16 rep stosl',
  ];
  c.stack = [
    'pushl %eax', 'popl %ebx', 'pushw %cx', 'popw %dx', 'pushl $5', 'pushl $0x12345678', 'pushw $-1', 'pushl (%eax)',
    'popl 4(%esi)', 'pushl %es', 'popl %ds', 'pushl %cs', 'pushl %ss', 'popl %ss', 'pushl %fs', 'popl %gs', 'pusha',
    'popa', 'pushaw', 'pushf', 'popf', 'pushfw', 'enter $16, $0', 'enter $8, $3', 'leave', 'leavew',
  ];
  c.system = [
    'int3', 'int $0x80', 'into', 'iret', 'iretw', 'hlt', 'cli', 'sti', 'inb $0x60, %al', 'inl $0x10, %eax', 'inw (%dx), %ax',
    'outb %al, $0x80', 'outl %eax, (%dx)', 'lgdt (%eax)', 'sgdt 4(%ebx)', 'lidt (%eax)', 'sidt (%eax)', 'lldt %ax',
    'sldt %eax', 'ltr (%eax)', 'str %eax', 'verr %ax', 'verw (%eax)', 'lmsw %ax', 'smsw %eax', 'clts', 'invlpg (%eax)',
    'wbinvd', 'invd', 'rdmsr', 'wrmsr', 'rdpmc', 'larl %ax, %eax', 'lsll (%eax), %ecx', 'arpl %ax, (%ebx)',
    'movl %cr0, %eax', 'movl %eax, %cr3', 'movl %cr4, %ecx', 'movl %db7, %eax', 'movl %eax, %db0', 'lcall $0x10, $0x1234',
    'ljmp $0x08, $0x100', 'lcall *(%eax)', 'ljmp *4(%ebx)', 'lret', 'lret $4', 'lesl (%eax), %ebx', 'ldsl (%eax), %ecx',
    'lssl (%eax), %esp', 'lfsl (%eax), %edx', 'lgsw (%eax), %si', 'sysenter', 'sysexit', 'boundl %eax, (%ecx)',
    'vmcall', '.byte 0xf1',
  ];
  c.misc = [
    'xchgl %eax, %ebx', 'xchgl %ecx, %edx', 'xchgb %al, (%ebx)', 'lock xchgl %eax, (%ebx)', 'xchgw %ax, %si', 'nop',
    'pause', '.byte 0x66, 0x90', 'cmpxchgb %cl, (%ebx)', 'lock cmpxchgl %ecx, 4(%esi,%edi,8)', 'cmpxchgw %dx, %bx',
    'cmpxchg8b (%esi)', 'lock cmpxchg8b 0x10(%ebp)', 'xaddb %al, %bl', 'lock xaddl %eax, (%ecx)', 'xaddw %dx, (%eax)',
    'lahf', 'sahf', 'xlat', 'xlat %es:(%ebx)', 'addr16 xlat', 'clc', 'stc', 'cmc', 'cld', 'std', 'nopl (%eax)',
    'nopw 0x0(%eax,%eax,1)', 'nopl 0x12345678(%eax,%ebx,4)', '.byte 0x0f, 0x19, 0xc0', '.byte 0x0f, 0x1c, 0x40, 0x10',
    '.byte 0x0f, 0x1d, 0x04, 0x24', '.byte 0x0f, 0x1e, 0xc3', '.byte 0x0f, 0x1a, 0x00', '.byte 0x0f, 0x1b, 0x08',
    'endbr32', 'prefetchnta (%eax)', 'prefetcht0 4(%eax)', 'prefetcht1 (%eax,%ebx)', 'prefetcht2 0x1000',
    '.byte 0x0f, 0x18, 0x20', '.byte 0x0f, 0x18, 0xc0', 'prefetch (%eax)', 'prefetchw (%ebx)', '.byte 0x0f, 0x0d, 0x18',
    'ud2', 'ud1 %eax, %ecx', 'ud1 4(%eax), %edx', 'cpuid', 'rdtsc',
  ];
  c.x87 = [
    ...['fadds', 'fmuls', 'fcoms', 'fcomps', 'fsubs', 'fsubrs', 'fdivs', 'fdivrs'].map((o) => `${o} (%eax)`),
    ...['faddl', 'fmull', 'fcoml', 'fcompl', 'fsubl', 'fsubrl', 'fdivl', 'fdivrl'].map((o) => `${o} 8(%ebx)`),
    ...['fiaddl', 'fimull', 'ficoml', 'ficompl', 'fisubl', 'fisubrl', 'fidivl', 'fidivrl'].map((o) => `${o} (%esi,%edi,2)`),
    ...['fiadds', 'fimuls', 'ficoms', 'ficomps', 'fisubs', 'fisubrs', 'fidivs', 'fidivrs'].map((o) => `${o} 0x1234`),
    'fadd %st(1), %st', 'fmul %st(2), %st', 'fcom %st(3)', 'fcomp %st(4)', 'fsub %st(5), %st', 'fsubr %st(6), %st',
    'fdiv %st(7), %st', 'fdivr %st(1), %st', '.byte 0xdc, 0xc1', '.byte 0xdc, 0xc9', '.byte 0xdc, 0xe1', '.byte 0xdc, 0xe9',
    '.byte 0xdc, 0xf1', '.byte 0xdc, 0xf9', '.byte 0xde, 0xc1', '.byte 0xde, 0xc9', 'fcompp', '.byte 0xde, 0xe1',
    '.byte 0xde, 0xe9', '.byte 0xde, 0xf1', '.byte 0xde, 0xf9',
    'flds (%eax)', 'fsts (%eax)', 'fstps (%eax)', 'fldenv (%eax)', 'fldcw (%eax)', 'fnstenv (%eax)', 'fnstcw (%eax)',
    'fld %st(1)', 'fxch %st(2)', 'fnop', 'fchs', 'fabs', 'ftst', 'fxam', 'fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2',
    'fldln2', 'fldz', 'f2xm1', 'fyl2x', 'fptan', 'fpatan', 'fxtract', 'fprem1', 'fdecstp', 'fincstp', 'fprem', 'fyl2xp1',
    'fsqrt', 'fsincos', 'frndint', 'fscale', 'fsin', 'fcos',
    'fildl (%eax)', 'fisttpl (%eax)', 'fistl (%eax)', 'fistpl (%eax)', 'fldt (%eax)', 'fstpt (%eax)',
    'fcmovb %st(1), %st', 'fcmove %st(2), %st', 'fcmovbe %st(3), %st', 'fcmovu %st(4), %st', 'fucompp',
    'fcmovnb %st(1), %st', 'fcmovne %st(1), %st', 'fcmovnbe %st(1), %st', 'fcmovnu %st(1), %st', 'fnclex', 'fninit',
    'fucomi %st(1), %st', 'fcomi %st(2), %st', '.byte 0xdb, 0xe0', '.byte 0xdb, 0xe1', '.byte 0xdb, 0xe4',
    'fldl (%eax)', 'fisttpll (%eax)', 'fstl (%eax)', 'fstpl (%eax)', 'frstor (%eax)', 'fnsave (%eax)', 'fnstsw (%eax)',
    'ffree %st(1)', 'fst %st(2)', 'fstp %st(3)', 'fucom %st(4)', 'fucomp %st(5)',
    'filds (%eax)', 'fisttps (%eax)', 'fists (%eax)', 'fistps (%eax)', 'fbld (%eax)', 'fildll (%eax)', 'fbstp (%eax)',
    'fistpll (%eax)', '.byte 0xdf, 0xc1', 'fnstsw %ax', 'fucomip %st(1), %st', 'fcomip %st(2), %st',
    'fwait', 'nop', 'fadds %fs:4(%eax)', '.byte 0x66, 0xd9, 0x30', '.byte 0x67, 0xdd, 0x00',
  ];
  c.sse = [
    'movups (%eax), %xmm0', 'movupd %xmm1, %xmm2', 'movss %xmm1, (%eax)', 'movsd 8(%eax), %xmm3', 'movlps (%eax), %xmm1',
    'movhlps %xmm1, %xmm0', 'movlpd (%eax), %xmm1', 'movsldup %xmm1, %xmm2', 'movddup (%eax), %xmm2', 'movlps %xmm1, (%eax)',
    'unpcklps %xmm1, %xmm0', 'unpckhpd (%eax), %xmm0', 'movhps (%eax), %xmm1', 'movlhps %xmm2, %xmm1',
    'movshdup %xmm1, %xmm0', 'movhpd %xmm1, (%eax)', 'movaps %xmm1, %xmm0', 'movapd %xmm0, (%eax)',
    'cvtpi2ps %mm1, %xmm0', 'cvtpi2pd (%eax), %xmm0', 'cvtsi2ss %eax, %xmm0', 'cvtsi2sdl (%eax), %xmm1',
    'movntps %xmm0, (%eax)', 'movntpd %xmm0, (%eax)', 'cvttps2pi %xmm0, %mm1', 'cvttpd2pi (%eax), %mm1',
    'cvttss2si %xmm0, %eax', 'cvttsd2si (%eax), %ecx', 'cvtps2pi %xmm0, %mm0', 'cvtsd2si %xmm1, %edx',
    'ucomiss %xmm1, %xmm0', 'ucomisd (%eax), %xmm0', 'comiss %xmm1, %xmm0', 'comisd %xmm1, %xmm0',
    'movmskps %xmm1, %eax', 'movmskpd %xmm1, %eax', 'sqrtps %xmm1, %xmm0', 'sqrtsd (%eax), %xmm0', 'rsqrtps %xmm1, %xmm0',
    'rsqrtss %xmm1, %xmm0', 'rcpps %xmm1, %xmm0', 'rcpss (%eax), %xmm0', 'andps %xmm1, %xmm0', 'andpd %xmm1, %xmm0',
    'andnps %xmm1, %xmm0', 'orpd %xmm1, %xmm0', 'xorps %xmm1, %xmm0', 'addps %xmm1, %xmm0', 'addpd %xmm1, %xmm0',
    'addss %xmm1, %xmm0', 'addsd %xmm1, %xmm0', 'mulps (%eax), %xmm0', 'subss %xmm1, %xmm0', 'minpd %xmm1, %xmm0',
    'divsd %xmm1, %xmm0', 'maxps %xmm1, %xmm0', 'cvtps2pd %xmm1, %xmm0', 'cvtpd2ps %xmm1, %xmm0', 'cvtss2sd %xmm1, %xmm0',
    'cvtsd2ss %xmm1, %xmm0', 'cvtdq2ps %xmm1, %xmm0', 'cvtps2dq %xmm1, %xmm0', 'cvttps2dq %xmm1, %xmm0',
    'punpcklbw %mm1, %mm0', 'punpcklbw %xmm1, %xmm0', 'punpcklwd (%eax), %mm0', 'punpckldq %mm1, %mm0',
    'packsswb %mm1, %mm0', 'pcmpgtb %xmm1, %xmm0', 'pcmpgtw %mm1, %mm0', 'pcmpgtd %mm1, %mm0', 'packuswb %xmm1, %xmm0',
    'punpckhbw %mm1, %mm0', 'punpckhwd %mm1, %mm0', 'punpckhdq %xmm1, %xmm0', 'packssdw %mm1, %mm0',
    'punpcklqdq %xmm1, %xmm0', 'punpckhqdq %xmm1, %xmm0', 'movd %eax, %mm0', 'movd (%eax), %xmm0', 'movq (%eax), %mm0',
    'movdqa %xmm1, %xmm0', 'movdqu (%eax), %xmm0', 'pshufw $1, %mm1, %mm0', 'pshufd $0x1b, %xmm1, %xmm0',
    'pshufhw $2, (%eax), %xmm0', 'pshuflw $3, %xmm1, %xmm0', 'psrlw $2, %mm1', 'psraw $3, %xmm1', 'psllw $4, %mm2',
    'psrld $1, %mm1', 'psrad $1, %xmm1', 'pslld $1, %mm1', 'psrlq $7, %mm1', 'psrldq $4, %xmm1', 'psllq $1, %xmm2',
    'pslldq $8, %xmm3', 'pcmpeqb %mm1, %mm0', 'pcmpeqw %xmm1, %xmm0', 'pcmpeqd %mm1, %mm0', 'emms', 'vmread %eax, %ebx',
    'vmwrite %eax, %ebx', 'haddpd %xmm1, %xmm0', 'haddps %xmm1, %xmm0', 'hsubpd %xmm1, %xmm0', 'hsubps (%eax), %xmm0',
    'movd %mm0, %eax', 'movd %xmm0, (%eax)', 'movq %xmm1, %xmm0', 'movq %mm1, (%eax)', 'movdqa %xmm0, (%eax)',
    'movdqu %xmm0, %xmm1', 'cmpps $1, %xmm1, %xmm0', 'cmppd $9, %xmm1, %xmm0', 'cmpss $0, %xmm1, %xmm0',
    'cmpsd $7, (%eax), %xmm0', 'movnti %eax, (%ebx)', 'pinsrw $1, %eax, %mm0', 'pinsrw $2, (%eax), %xmm0',
    'pextrw $1, %mm0, %eax', 'pextrw $3, %xmm0, %ecx', 'shufps $0x44, %xmm1, %xmm0', 'shufpd $1, %xmm1, %xmm0',
    'addsubpd %xmm1, %xmm0', 'addsubps %xmm1, %xmm0', 'psrlw %mm1, %mm0', 'psrld %xmm1, %xmm0', 'psrlq %mm1, %mm0',
    'paddq %mm1, %mm0', 'pmullw %xmm1, %xmm0', 'movq %xmm0, (%eax)', 'movq2dq %mm1, %xmm0', 'movdq2q %xmm1, %mm0',
    'pmovmskb %mm1, %eax', 'pmovmskb %xmm1, %eax', 'psubusb %mm1, %mm0', 'pminub %xmm1, %xmm0', 'pand %mm1, %mm0',
    'paddusw %mm1, %mm0', 'pmaxub %mm1, %mm0', 'pandn %xmm1, %xmm0', 'pavgb %mm1, %mm0', 'psraw %mm1, %mm0',
    'psrad %xmm1, %xmm0', 'pavgw %mm1, %mm0', 'pmulhuw %mm1, %mm0', 'pmulhw %xmm1, %xmm0', 'cvttpd2dq %xmm1, %xmm0',
    'cvtdq2pd %xmm1, %xmm0', 'cvtpd2dq %xmm1, %xmm0', 'movntq %mm0, (%eax)', 'movntdq %xmm0, (%eax)', 'psubsb %mm1, %mm0',
    'psubsw %mm1, %mm0', 'pminsw %mm1, %mm0', 'por %xmm1, %xmm0', 'paddsb %mm1, %mm0', 'paddsw %mm1, %mm0',
    'pmaxsw %mm1, %mm0', 'pxor %xmm1, %xmm0', 'lddqu (%eax), %xmm0', 'psllw %mm1, %mm0', 'pslld %mm1, %mm0',
    'psllq %xmm1, %xmm0', 'pmuludq %mm1, %mm0', 'pmaddwd %mm1, %mm0', 'psadbw %xmm1, %xmm0', 'maskmovq %mm1, %mm0',
    'maskmovdqu %xmm1, %xmm0', 'psubb %mm1, %mm0', 'psubw %mm1, %mm0', 'psubd %xmm1, %xmm0', 'psubq %mm1, %mm0',
    'paddb %mm1, %mm0', 'paddw %mm1, %mm0', 'paddd %xmm1, %xmm0', 'ud0 %eax, %ecx', 'femms', 'pfadd %mm1, %mm0',
    'pfmul (%eax), %mm2', 'pi2fd %mm1, %mm0', 'pswapd %mm1, %mm0', 'fxsave (%eax)', 'fxrstor (%eax)', 'ldmxcsr (%eax)',
    'stmxcsr 4(%esp)', 'xsave (%eax)', 'xrstor (%eax)', 'xsaveopt (%eax)', 'clflush (%eax)', 'lfence', 'mfence', 'sfence',
    'lock addl $0, (%esp)', 'addps %fs:(%eax), %xmm0', 'addr16 addps (%bx,%si), %xmm0', 'lock xchgl %eax, (%ebx)',
  ];
  c.sse3byte = [
    'pshufb %mm1, %mm0', 'pshufb %xmm1, %xmm0', 'phaddw %mm1, %mm0', 'phaddd %xmm1, %xmm0', 'phaddsw %mm1, %mm0',
    'pmaddubsw %xmm1, %xmm0', 'phsubw %mm1, %mm0', 'phsubd %xmm1, %xmm0', 'phsubsw %mm1, %mm0', 'psignb %mm1, %mm0',
    'psignw %xmm1, %xmm0', 'psignd %mm1, %mm0', 'pmulhrsw %xmm1, %xmm0', 'pblendvb %xmm0, %xmm1, %xmm2',
    'blendvps %xmm0, %xmm1, %xmm2', 'blendvpd %xmm0, (%eax), %xmm2', 'ptest %xmm1, %xmm0', 'pabsb %mm1, %mm0',
    'pabsw %xmm1, %xmm0', 'pabsd %mm1, %mm0', 'pmovsxbw %xmm1, %xmm0', 'pmovsxbd (%eax), %xmm0', 'pmovsxbq %xmm1, %xmm0',
    'pmovsxwd %xmm1, %xmm0', 'pmovsxwq %xmm1, %xmm0', 'pmovsxdq %xmm1, %xmm0', 'pmuldq %xmm1, %xmm0',
    'pcmpeqq %xmm1, %xmm0', 'movntdqa (%eax), %xmm0', 'packusdw %xmm1, %xmm0', 'pmovzxbw %xmm1, %xmm0',
    'pmovzxbd %xmm1, %xmm0', 'pmovzxbq %xmm1, %xmm0', 'pmovzxwd %xmm1, %xmm0', 'pmovzxwq %xmm1, %xmm0',
    'pmovzxdq (%eax,%ebx,4), %xmm0', 'pcmpgtq %xmm1, %xmm0', 'pminsb %xmm1, %xmm0', 'pminsd %xmm1, %xmm0',
    'pminuw %xmm1, %xmm0', 'pminud %xmm1, %xmm0', 'pmaxsb %xmm1, %xmm0', 'pmaxsd %xmm1, %xmm0', 'pmaxuw %xmm1, %xmm0',
    'pmaxud %xmm1, %xmm0', 'pmulld %xmm1, %xmm0', 'phminposuw %xmm1, %xmm0', 'invept (%eax), %ecx',
    'invvpid (%eax), %ecx', 'invpcid (%eax), %ecx', 'sha1nexte %xmm1, %xmm0', 'sha1msg1 %xmm1, %xmm0',
    'sha1msg2 %xmm1, %xmm0', 'sha256rnds2 %xmm0, %xmm1, %xmm2', 'sha256msg1 %xmm1, %xmm0', 'sha256msg2 %xmm1, %xmm0',
    'gf2p8mulb %xmm1, %xmm0', 'aesimc %xmm1, %xmm0', 'aesenc %xmm1, %xmm0', 'aesenclast (%eax), %xmm0',
    'aesdec %xmm1, %xmm0', 'aesdeclast %xmm1, %xmm0', 'movbe (%eax), %ecx', 'movbe %ecx, (%eax)', 'movbew (%eax), %cx',
    'crc32b %al, %ecx', 'crc32l (%eax), %ecx', 'crc32w %ax, %ecx', 'adcx %eax, %ebx', 'adox (%eax), %ebx',
    'roundps $1, %xmm1, %xmm0', 'roundpd $2, %xmm1, %xmm0', 'roundss $3, %xmm1, %xmm0', 'roundsd $4, (%eax), %xmm0',
    'blendps $5, %xmm1, %xmm0', 'blendpd $1, %xmm1, %xmm0', 'pblendw $0xf0, %xmm1, %xmm0', 'palignr $3, %mm1, %mm0',
    'palignr $5, %xmm1, %xmm0', 'pextrb $1, %xmm0, %eax', 'pextrb $1, %xmm0, (%eax)', 'pextrw $2, %xmm0, (%eax)',
    'pextrd $3, %xmm0, %ecx', 'extractps $1, %xmm0, %eax', 'pinsrb $1, %eax, %xmm0', 'pinsrb $2, (%eax), %xmm0',
    'insertps $0x10, %xmm1, %xmm0', 'pinsrd $1, (%eax), %xmm0', 'dpps $0xff, %xmm1, %xmm0', 'dppd $0x31, %xmm1, %xmm0',
    'mpsadbw $1, %xmm1, %xmm0', 'pclmulqdq $0x00, %xmm1, %xmm0', 'pclmulqdq $0x11, (%eax), %xmm0',
    'pclmulqdq $0x10, %xmm1, %xmm0', 'pcmpestrm $1, %xmm1, %xmm0', 'pcmpestri $2, %xmm1, %xmm0',
    'pcmpistrm $3, %xmm1, %xmm0', 'pcmpistri $4, 0x10(%eax,%ecx,8), %xmm0', 'sha1rnds4 $1, %xmm1, %xmm0',
    'gf2p8affineqb $1, %xmm1, %xmm0', 'gf2p8affineinvqb $2, %xmm1, %xmm0', 'aeskeygenassist $1, %xmm1, %xmm0',
  ];
  c.prefixes = [
    'addr16 movl (%bx,%si), %eax', 'addr16 movl 0x10(%bp,%di), %ecx', 'addr16 movw 0x1234, %ax',
    'addr16 movl -4(%bp), %eax', 'addr16 movl 0x8000(%bx), %eax', 'addr16 leal (%si), %eax', 'addr16 addl $1, (%di)',
    'movl %cs:(%eax), %ebx', 'movl %ss:(%eax), %ebx', 'movl %ds:(%ebp), %ebx', 'movl %es:(%eax), %ebx',
    'movl %fs:(%eax), %ebx', 'movl %gs:(%eax), %ebx', '.byte 0x66, 0x67, 0x8b, 0x07', '.byte 0x2e, 0x3e, 0x8b, 0x00',
    '.byte 0xf3, 0x66, 0x0f, 0x58, 0xc1', '.byte 0x66, 0xf3, 0x0f, 0x58, 0xc1', '.byte 0xf2, 0xf3, 0x0f, 0x10, 0xc1',
    'lock orl $1, %fs:4(%eax,%ebx,2)', '.byte 0x26, 0x90', 'data16 addr16 movsb',
  ];
  return c;
}

/** The 16-bit-code corpus (assembled with .code16, objdump -m i8086). */
const CORPUS16 = [
  'movw (%bx,%si), %ax', 'movw 0x10(%bp,%di), %cx', 'movw 0x1234, %ax', 'movb -4(%bp), %al', 'movw 0x8000(%bx), %dx',
  'addw $0x1234, %ax', 'addw $-1, (%si)', 'movl %eax, %ebx', 'movl (%ebx), %eax', 'pushw $0x1234', 'pushl $0x12345678',
  'jmp 1f', 'call 1f', 'jne 1f', 'jecxz 1f', '1:', 'xlat', 'cmpxchgw %cx, (%bx)', 'cmpxchg8b (%di)', 'xaddl %eax, (%bx)',
  'xchgw %ax, %cx', 'nopw (%bx)', 'cpuid', 'rdtsc', 'fldl (%bx)', 'fld %st(1)', 'addps %xmm1, %xmm0', 'addpd %xmm1, %xmm0',
  'movd %eax, %mm0', 'movd %eax, %xmm0', 'pshufd $1, (%bx), %xmm0', 'palignr $1, %xmm1, %xmm0', 'pshufb %xmm1, %xmm0',
  'movsw', 'rep stosl', 'lcall $0x10, $0x20', 'ljmp $0x10, $0x20', 'int $0x10', 'iret', 'lgdt (%bx)',
  'movw %cs:(%bx), %ax', 'leaw 4(%bx,%si), %di', 'enter $4, $0', 'pushaw', 'pushal', 'retw', 'retl',
];

// --- comparison ------------------------------------------------------------------------------

const PREFIX_WORDS = new Set(['lock', 'rep', 'repz', 'repnz', 'repe', 'repne', 'data16', 'data32', 'addr16', 'addr32',
  'cs', 'ds', 'es', 'fs', 'gs', 'ss', 'bnd', 'notrack']);
const CC_ALIAS: Record<string, string> = {
  z: 'e', nz: 'ne', c: 'b', nae: 'b', nc: 'ae', nb: 'ae', na: 'be', nbe: 'a', pe: 'p', po: 'np',
  nge: 'l', nl: 'ge', ng: 'le', nle: 'g',
};
const ALIAS: Record<string, string> = {
  sal: 'shl', xlatb: 'xlat', prefetchwt1: 'prefetch', icebp: 'int1', wait: 'fwait', ud2a: 'ud2', ud1l: 'ud1',
  lcall: 'call', callf: 'call', ljmp: 'jmp', jmpf: 'jmp', lret: 'retf', retfd: 'retf', retfw: 'retf',
  loopz: 'loope', loopnz: 'loopne', pushw: 'push', pushl: 'push', pushd: 'push', popw: 'pop', popl: 'pop', popd: 'pop',
  retw: 'ret', retl: 'ret', retd: 'ret',
  leavew: 'leave', leavel: 'leave', cwtl: 'cwde', cltd: 'cdq', cbtw: 'cbw', cwtd: 'cwd',
};

/** The mnemonic of an instruction text, prefixes stripped, aliases folded. */
function mnemonic(text: string): string {
  const words = text.trim().split(/\s+/);
  while (words.length > 1 && PREFIX_WORDS.has(words[0]!)) words.shift();
  if (words[0] === '(bad)') return '(bad)';
  let m = (words[0] ?? '').toLowerCase().replace(/\(.*$/, '');
  m = m.replace(/^(movs|cmps|stos|lods|scas|ins|outs)[bwdl]$/, '$1');
  m = m.replace(/^(pusha|popa|pushf|popf|iret)[wdl]$/, '$1');
  m = m.replace(/^(sgdt|sidt|lgdt|lidt|fnstenv|fldenv|fnsave|frstor)[wdl]$/, '$1');
  const cc = /^(j|set|cmov)([a-z]+)$/.exec(m);
  if (cc && CC_ALIAS[cc[2]!] !== undefined) m = cc[1]! + CC_ALIAS[cc[2]!]!;
  return ALIAS[m] ?? m;
}

/** objdump names for forms we decode as (hint) NOPs. */
const NOP_ALIASES = /^(nop|xchg|endbr32|endbr64|rdsspd|rdsspq|cldemote|bnd\w+)$/;

interface Mismatch { addr: string; bytes: string; objdump: string; ours: string; why: string }

function walk(insns: ObjdumpInsn[], code: Uint8Array, code16: boolean): { mismatches: Mismatch[]; checked: number; named: number } {
  const cpu = cpuWithCode(code, code16);
  const mismatches: Mismatch[] = [];
  let named = 0;
  for (const o of insns) {
    const hexb = o.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const addr = o.addr.toString(16);
    let ours: string;
    let len: number;
    try {
      const i = decode(cpu, OPCODES, o.addr);
      len = i.len;
      ours = disassemble(i, { code32: !code16, bytes: new Uint8Array(o.bytes) });
    } catch (e) {
      mismatches.push({ addr, bytes: hexb, objdump: o.text, ours: String(e), why: 'decode threw' });
      continue;
    }
    if (len !== o.bytes.length) {
      mismatches.push({ addr, bytes: hexb, objdump: o.text, ours, why: `length ${len} vs ${o.bytes.length}` });
      continue;
    }
    const theirs = mnemonic(o.text), mine = mnemonic(ours);
    if (theirs === '(bad)' || mine === '(bad)') continue;
    named++;
    if (theirs === mine) continue;
    if (mine === 'nop' && NOP_ALIASES.test(theirs)) continue;
    mismatches.push({ addr, bytes: hexb, objdump: o.text, ours, why: `mnemonic ${mine} vs ${theirs}` });
  }
  return { mismatches, checked: insns.length, named };
}

const fmt = (m: Mismatch): string => `${m.addr}: ${m.bytes} | objdump: ${m.objdump} | ours: ${m.ours} | ${m.why}`;

describe('decoder vs objdump', () => {
  const groups = corpus32();
  for (const [family, lines] of Object.entries(groups)) {
    it(`32-bit ${family}: same boundaries and mnemonics (${lines.length} lines)`, () => {
      const src = ['  .text', ...lines.map((l) => (l.endsWith(':') ? l : `  ${l}`)), 'far_label:', '  nop',
        '  .set scratch_label, 0x80000'].join('\n');
      const { insns, code } = objdump(src);
      expect(insns.length).toBeGreaterThanOrEqual(lines.filter((l) => !l.endsWith(':')).length);
      const r = walk(insns, code, false);
      expect(r.mismatches.map(fmt)).toEqual([]);
      expect(r.named).toBeGreaterThan(insns.length * 0.8);
    });
  }

  it(`16-bit code: same boundaries and mnemonics (${CORPUS16.length} lines)`, () => {
    const src = CORPUS16.map((l) => (l.endsWith(':') ? l : `  ${l}`)).join('\n');
    const { insns, code } = objdump(src, true);
    const r = walk(insns, code, true);
    expect(r.mismatches.map(fmt)).toEqual([]);
    expect(r.named).toBeGreaterThan(insns.length * 0.8);
  });

  it('every opcode slot of the fpu/SSE maps decodes to objdump\'s length (exhaustive ModRM sweep)', () => {
    // For each two-byte SSE/MMX opcode and each 0F 38 / 0F 3A opcode binutils
    // knows, try a register and two memory ModRM forms under each mandatory
    // prefix; every line objdump decodes must match our length.
    const lines: string[] = [];
    const ops: number[][] = [];
    for (let b = 0; b < 256; b++) {
      const inRange = (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) ||
        (b >= 0xc2 && b <= 0xc6) || b >= 0xd0;
      if (inRange) ops.push([0x0f, b]);
      ops.push([0x0f, 0x38, b], [0x0f, 0x3a, b]);
    }
    for (const op of ops) {
      for (const pfx of [[], [0x66], [0xf3], [0xf2]]) {
        // 66/F2 0F 78: AMD's EXTRQ/INSERTQ imm8,imm8 (we follow the Intel map).
        if (op.length === 2 && op[1] === 0x78 && (pfx[0] === 0x66 || pfx[0] === 0xf2)) continue;
        for (const modrm of [[0xc1], [0x44, 0x98, 0x10], [0x05, 0x78, 0x56, 0x34, 0x12]]) {
          // The trailing 0x90 is the imm8 of forms that have one and a NOP
          // otherwise; the NOP sled keeps a mis-sized instruction from
          // swallowing the next one.
          const bytes = [...pfx, ...op, ...modrm, 0x90];
          lines.push(`  .byte ${bytes.join(', ')}`, '  .byte 0x90, 0x90, 0x90, 0x90');
        }
      }
    }
    const { insns, code } = objdump(lines.join('\n'));
    const cpu = cpuWithCode(code);
    const bad: string[] = [];
    let compared = 0;
    // Walk objdump's boundaries; compare only instructions objdump names
    // (its "(bad)" lengths for undefined forms are not meaningful).
    for (const o of insns) {
      if (o.text.includes('(bad)') || o.text.startsWith('.byte') || o.bytes[0] === 0x90) continue;
      const i = decode(cpu, OPCODES, o.addr);
      compared++;
      if (i.len !== o.bytes.length) {
        bad.push(`${o.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}: objdump ${o.text} (${o.bytes.length}), ours ${i.len}`);
      }
    }
    expect(bad.slice(0, 30)).toEqual([]);
    expect(compared).toBeGreaterThan(3000);
  });
});
