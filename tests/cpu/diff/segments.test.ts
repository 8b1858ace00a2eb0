/**
 * Segmentation, far transfers and software interrupts against the host CPU,
 * for what a Linux user process can observe: PUSH/POP of segment registers
 * with the user selectors (CS 0x23, DS/ES/SS 0x2b), MOV/POP/LxS segment
 * loads with valid and invalid selectors (#GP(selector) natively), far
 * CALL/JMP/RET and IRET within ring 3, INT n / INT3 / INTO, BOUND and ARPL.
 *
 * The emulator runs with `linux: true`: a GDT/IDT/TSS shaped like the
 * host's and the real IdtDelivery, so the faults come from our own checks
 * and the frame the delivery pushes is what gets compared (vector, error
 * code, EIP, EFLAGS including RF, ESP).
 *
 * Not compared: INT1/ICEBP (under the host's hypervisor it reports the
 * instruction's own address, while the SDM defines a trap — the system
 * tests check the SDM behaviour), int $0x80 (a real system call natively).
 */
import { describe, expect, it } from 'vitest';
import { diffSuite, FLAGS_ALL, type DiffCase } from './harness.js';

/** Arithmetic flags, DF, and the system flags the cases can move: TF, IF, IOPL, NT, RF, ID. */
const FLAGS = FLAGS_ALL | 0x100 | 0x200 | 0x3000 | 0x4000 | 0x10000 | 0x200000;

const FILL = new Uint8Array(512).fill(0xa5);

function le32(...ws: number[]): Uint8Array {
  const b = new Uint8Array(512).fill(0xa5);
  const dv = new DataView(b.buffer);
  ws.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return b;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const add = (name: string, code: string, extra: Partial<DiffCase> = {}): void => {
    out.push({ name, code, mem: FILL, flagsMask: FLAGS, ...extra });
  };

  // PUSH/POP segment registers (stack memory pre-filled, so the slot width shows).
  for (const r of ['cs', 'ds', 'es', 'ss', 'fs', 'gs']) {
    add(`pushl %${r}`, `  pushl %${r}\n  movl (%esp), %eax`);
    add(`pushw %${r}`, `  pushw %${r}\n  movl (%esp), %eax`);
  }
  for (const r of ['ds', 'es', 'ss']) {
    add(`popl %${r} 0x2b`, `  pushl $0x2b\n  popl %${r}\n  movw %${r}, %ax`);
    add(`popw %${r} 0x2b`, `  pushw $0x2b\n  popw %${r}\n  movw %${r}, %ax`);
    add(`popl %${r} 0x10 (#GP)`, `  pushl $0x10\n  popl %${r}`);
  }
  for (const r of ['fs', 'gs']) {
    add(`popl %${r} 0x2b`, `  pushl $0x2b\n  popl %${r}\n  movw %${r}, %ax\n  xorl %ecx, %ecx\n  movw %cx, %${r}`);
    add(`popl %${r} 0x13 (#GP)`, `  pushl $0x13\n  popl %${r}`);
  }
  add('popl %ds 0x2b high bits ignored', '  pushl $0xffff002b\n  popl %ds\n  movw %ds, %ax');

  // MOV to DS/ES: every selector of the host's GDT and beyond, RPL 3 and 0.
  for (let sel = 0; sel < 0x90; sel += 4) {
    for (const rpl of [0, 3]) {
      add(`mov ds, 0x${(sel | rpl).toString(16)}`, `  movl $${sel | rpl}, %eax\n  movw %ax, %ds\n  movw %ds, %bx`);
    }
  }
  for (const sel of [0x8003, 0xfff8, 0xffff, 0x7f, 0x2f]) {
    add(`mov es, 0x${sel.toString(16)}`, `  movl $${sel}, %eax\n  movw %ax, %es`);
  }
  // SS: null, wrong RPL, code, read-only data, DPL 0.
  for (const sel of [0, 3, 0x28, 0x2b, 0x23, 0x33, 0x7b, 0x18, 0x1b, 0x90]) {
    add(`mov ss, 0x${sel.toString(16)}`, `  movl $${sel}, %eax\n  movw %ax, %ss`);
  }
  add('mov fs/gs 0x2b then reset', '  movl $0x2b, %eax\n  movw %ax, %fs\n  movw %ax, %gs\n  movw %fs, %bx\n  movw %gs, %dx\n  xorl %eax, %eax\n  movw %ax, %fs\n  movw %ax, %gs');
  add('null DS access (#GP(0))', '  xorl %eax, %eax\n  movw %ax, %ds\n  movl (%esp), %ebx');
  add('null FS access (#GP(0))', '  movl %fs:0, %ebx');
  add('CPUNODE read (#GP(0): expand-down)', '  movl $0x7b, %eax\n  movw %ax, %es\n  movl %es:0, %ebx');
  add('mov ds, mem16', '  movw $0x2b, scratch+8\n  movw scratch+8, %ds\n  movw %ds, %cx');
  add('mov cs (#UD)', '  .byte 0x8e, 0xc8');

  // LDS/LES/LSS/LFS/LGS.
  const far = (off: number, sel: number): Uint8Array => le32(off, sel);
  add('lds 32', '  ldsl scratch, %ebx\n  movw %ds, %cx', { mem: far(0x12345678, 0x2b) });
  add('les 16', '  lesw scratch, %bx\n  movw %es, %cx', { mem: le32(0x002b5678) });
  add('lss 32', '  lssl scratch, %esp', { mem: far(0x80100, 0x2b) });
  add('lfs 32 + reset', '  lfsl scratch, %edx\n  movw %fs, %cx\n  xorl %eax, %eax\n  movw %ax, %fs', { mem: far(0xabcdef01, 0x2b) });
  add('lgs 32 + reset', '  lgsl scratch, %edx\n  movw %gs, %cx\n  xorl %eax, %eax\n  movw %ax, %gs', { mem: far(0xabcdef01, 0x2b) });
  add('lds bad selector (#GP)', '  movl $7, %ebx\n  ldsl scratch, %ebx', { mem: far(0x1111, 0x18) });
  add('lss bad selector (#GP)', '  lssl scratch, %esp', { mem: far(0x1111, 0x23) });
  add('les out of range (#GP)', '  lesl scratch, %edi', { mem: far(0x1111, 0x1000) });
  add('lds reg (#UD)', '  .byte 0xc5, 0xc0');

  // Far transfers within ring 3.
  add('lcall/lret 0x23', '  lcall $0x23, $1f\n  jmp 2f\n1:  movl (%esp), %eax\n  movl 4(%esp), %ebx\n  lret\n2:  nop');
  add('lcall mem + lret $8', '  movl $1f, scratch+16\n  movw $0x23, scratch+20\n  pushl $1\n  pushl $2\n  lcall *scratch+16\n  jmp 2f\n1:  lret $8\n2:  movl %esp, %esi');
  add('ljmp 0x23', '  ljmp $0x23, $1f\n  hlt\n1:  movl $5, %eax');
  add('ljmp mem', '  movl $1f, scratch+16\n  movw $0x23, scratch+20\n  ljmp *scratch+16\n  hlt\n1:  movl $6, %eax');
  add('lret built by hand', '  pushl $0x23\n  pushl $1f\n  lret\n  hlt\n1:  movl $7, %eax');
  for (const sel of [0, 3, 0x08, 0x10, 0x18, 0x2b, 0x38, 0x40, 0x43, 0x7b, 0x80, 0x1f]) {
    add(`lcall 0x${sel.toString(16)} (#GP)`, `  lcall $${sel}, $0`);
    add(`ljmp 0x${sel.toString(16)} (#GP)`, `  ljmp $${sel}, $0`);
  }
  for (const sel of [0, 0x20, 0x23 & ~3, 0x2b, 0x18, 0x80, 0x7b]) {
    add(`lret to 0x${sel.toString(16)} (#GP)`, `  pushl $${sel}\n  pushl $1f\n  lret\n1:  nop`);
  }
  add('lret 16-bit pops (#GP on null CS)', '  pushl $0\n  lretw');

  // IRET at CPL 3, same privilege: flags rules.
  for (const image of [0x202, 0x2d7, 0x3ed7, 0x8d7, 0x46d7, 0x2008d7, 0x3002]) {
    add(`iret image 0x${image.toString(16)}`, `  pushl $${image}\n  pushl $0x23\n  pushl $1f\n  iret\n1:  pushfl\n  popl %eax`);
  }
  add('iretw to RPL 0 (#GP, 16-bit frame)', '  pushw $0x202\n  pushw $0x20\n  pushw $0x1234\n  iretw');
  add('iret to RPL 0 (#GP)', '  pushl $0x202\n  pushl $0x20\n  pushl $1f\n  iret\n1:  nop');
  add('iret to data (#GP)', '  pushl $0x202\n  pushl $0x2b\n  pushl $1f\n  iret\n1:  nop');
  add('iret with TF: single-step trap after the next instruction', '  pushl $0x302\n  pushl $0x23\n  pushl $1f\n  iret\n1:  movl $1, %eax\n  movl $2, %ebx');

  // INT n / INT3 / INTO / CLI / STI.
  for (const n of [0, 1, 2, 3, 4, 5, 6, 8, 13, 14, 0x20, 0x21, 0x7f, 0x81, 0xfe, 0xff]) {
    add(`int $${n}`, `  movl $1, %eax\n  int $${n}\n  movl $2, %eax`);
  }
  add('int3', '  movl $1, %eax\n  int3\n  movl $2, %eax');
  add('into OF=0', '  into\n  movl $2, %eax');
  add('into OF=1', '  into\n  movl $2, %eax', { eflags: 0x800 });
  add('into after overflow', '  movl $0x7fffffff, %eax\n  incl %eax\n  into\n  movl $3, %ebx');
  add('cli (#GP)', '  cli');
  add('sti (#GP)', '  sti');

  // BOUND.
  for (const [v, lo, hi] of [[5, 0, 10], [0, 0, 10], [10, 0, 10], [-1, 0, 10], [11, 0, 10], [-5, -10, -1], [0x7fffffff, -1, 0x7fffffff], [0x80000000, 0x80000000, -1]] as const) {
    add(`bound ${v} in [${lo},${hi}]`, '  boundl %eax, scratch\n  movl $9, %ecx', { regs: { eax: v >>> 0 }, mem: le32(lo, hi) });
  }
  for (const [v, lo, hi] of [[5, 0, 10], [0x8000, 0, 10], [0xfffe, 0xfffd, 0xffff], [0x11, 0x10, 0x10]] as const) {
    add(`boundw ${v} in [${lo},${hi}]`, '  boundw %ax, scratch\n  movl $9, %ecx', { regs: { eax: v }, mem: le32(lo | (hi << 16)) });
  }

  // ARPL.
  for (const [d, s] of [[0x10, 0x23], [0x2b, 0x28], [0x2b, 0x2b], [0xfff0, 0x1]] as const) {
    add(`arpl reg 0x${d.toString(16)},0x${s.toString(16)}`, '  arpl %bx, %ax\n  setz %cl', { regs: { eax: d, ebx: s } });
    add(`arpl mem 0x${d.toString(16)},0x${s.toString(16)}`, '  arpl %bx, scratch+2\n  setz %cl', { regs: { ebx: s }, mem: le32(d << 16) });
  }
  return out;
}

describe('segmentation, far transfers and interrupts vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat, Linux-like tables)`, () => {
    expect(diffSuite('segments', all, { linux: true }).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('segments', all, { linux: true, paging: true }).slice(0, 20)).toEqual([]);
  });
});
