/**
 * The Xen PV trap layer (src/vmm/xen/pv): bounce frames for exceptions and
 * INT n (reference §4), the trap table's DPL rule, the hypercall trap,
 * the iret hypercall in both directions, Xen's privileged-op emulation and
 * the forced-emulation CPUID prefix, the hypervisor hole (read-only M2P),
 * Xen's reserved GDT selectors, and domain crashes where Xen would crash
 * the domain (no handler, unusable kernel stack).
 *
 * Each test boots the minimal PV fixture with the real builder (so the
 * page tables, selectors and start state are the real ones), drops a code
 * snippet into a free page of the bootstrap region and runs it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { R, Seg } from '../../src/vmm/cpu/cpu.js';
import { VCPU_INFO } from '../../src/vmm/xen/domain.js';
import { asm } from '../cpu/system/fixture.js';

const ELF = new Uint8Array(readFileSync(new URL('../fixtures/loader/pv-min.elf', import.meta.url)));

interface Rig {
  m: Machine;
  /** Code page VA (= PA: the fixture's virt base is 0). */
  code: number;
  /** A free data page. */
  data: number;
  /** Guest ESP at start. */
  sp: number;
  /** Address of a label in the snippet. */
  at(label: string): number;
  rd(va: number): number;
}

/** Boot the fixture and place `src` (AT&T; labels allowed) at a scratch page. */
function rig(src: string): Rig {
  const m = new Machine({ kernel: inspectKernel(ELF, 'pv-min.elf'), console: { write() {} } });
  const end = m.boot.layout.bootstrap_end!;
  const code = end - 0x10000, data = end - 0x8000;
  // Export every label as a symbol-ish: append a table of their addresses after the code.
  const labels = [...src.matchAll(/^\s*([A-Za-z_][\w]*):/gm)].map((x) => x[1]!);
  const table = labels.map((l) => `.long ${l}`).join('\n');
  const bin = asm(`${src}\n.p2align 2\nlabel_table:\n${table}\n`, code);
  m.mem.writeBytes(code, bin);
  const tableAt = code + bin.length - labels.length * 4;
  const addr = new Map(labels.map((l, i) => [l, m.mem.read32(tableAt + i * 4) >>> 0]));
  m.cpu.eip = code;
  const sp = m.cpu.r32[R.ESP]! >>> 0;
  return {
    m, code, data, sp,
    at: (l) => { const a = addr.get(l); if (a === undefined) throw new Error(`no label ${l}`); return a; },
    rd: (va) => m.mem.read32(va) >>> 0,
  };
}

/** Run until EIP reaches `label` (the test snippets park in `jmp .` loops). */
function runTo(r: Rig, label: string, max = 10_000): void {
  const target = r.at(label);
  for (let i = 0; i < max && r.m.cpu.eip >>> 0 !== target; i++) {
    const e = r.m.step(1);
    if (e !== null) throw new Error(`machine stopped: ${JSON.stringify(e)}`);
  }
  expect((r.m.cpu.eip >>> 0).toString(16)).toBe(target.toString(16));
}

/** Set the U bit on the PAE L1 entry of `va` (as XTF does with update_va_mapping for its user sections). */
function userify(r: Rig, va: number): void {
  const mem = r.m.mem, cr3 = r.m.cpu.cr3 >>> 0;
  const l2 = (mem.read32(cr3 + (va >>> 30) * 8) & ~0xfff) >>> 0;
  const l2e = mem.read32(l2 + ((va >>> 21) & 511) * 8);
  mem.write32(l2 + ((va >>> 21) & 511) * 8, l2e | 4);
  const l1 = (l2e & ~0xfff) >>> 0;
  const at = l1 + ((va >>> 12) & 511) * 8;
  mem.write32(at, mem.read32(at) | 4);
  r.m.cpu.tlbFlushAll();
}

function setTrap(r: Rig, vector: number, label: string, flags = 0): void {
  const pv = r.m.domain.pv;
  pv.trapCs[vector] = 0xe019;
  pv.trapEip[vector] = r.at(label);
  pv.trapFlags[vector] = flags;
}

describe('PV bounce frames', () => {
  it('bounces #PF from ring 1 with error code, CS|mask<<16, EFLAGS image, and CR2 in vcpu_info', () => {
    const r = rig(`
      movl 0x3ff00000, %eax
    after: jmp after
    pf: jmp pf`);
    setTrap(r, 14, 'pf');
    r.m.domain.upcallMask = 0;
    runTo(r, 'pf');
    const sp = r.m.cpu.r32[R.ESP]! >>> 0;
    expect(sp).toBe(r.sp - 16);
    expect(r.rd(sp)).toBe(0); // not present, read, supervisor
    expect(r.rd(sp + 4)).toBe(r.code); // the faulting instruction
    expect(r.rd(sp + 8)).toBe(0xe019); // saved mask 0
    expect(r.rd(sp + 12) & 0x200).toBe(0x200); // IF image = !mask
    expect(r.m.mem.read32(r.m.domain.sharedInfoPa + VCPU_INFO.cr2) >>> 0).toBe(0x3ff00000);
    expect(r.m.domain.upcallMask).toBe(0); // no mask flag on the trap
    expect(r.m.cpu.cpl).toBe(1);
  });

  it('saves the upcall mask in CS bits 16+ and IF=0 in the image; the trap flag masks events', () => {
    const r = rig(`
      ud2
    ud: jmp ud`);
    setTrap(r, 6, 'ud', 4);
    r.m.domain.upcallMask = 1;
    runTo(r, 'ud');
    const sp = r.m.cpu.r32[R.ESP]! >>> 0;
    expect(sp).toBe(r.sp - 12); // #UD has no error code
    expect(r.rd(sp + 4)).toBe(0x1e019);
    expect(r.rd(sp + 8) & 0x200).toBe(0);
    expect(r.m.domain.upcallMask).toBe(1);
  });

  it('switches to kernel_ss:kernel_sp for a trap from ring 3 and pushes SS:ESP; int n obeys the DPL', () => {
    // Ring 1 → ring 3 through the iret hypercall, then `int $0x80` (DPL 3) back, then `int $0x81` (DPL 1) → #GP.
    const r = rig(`
      pushl $0xe033            /* SS */
      pushl $ustack_top        /* ESP */
      pushl $0x202             /* EFLAGS (IF: events unmasked) */
      pushl $0xe02b            /* CS */
      pushl $user              /* EIP */
      pushl $0x1234            /* EAX (the stub's push) */
      movl $23, %eax
      int $0x82
    user:
      movl %cs, %ebx
      int $0x80
    back: jmp back
    sys: jmp sys
    gp: jmp gp
      .p2align 4
    ustack: .fill 64, 1, 0
    ustack_top:`);
    userify(r, r.code);
    setTrap(r, 0x80, 'sys', 3);
    setTrap(r, 13, 'gp');
    r.m.domain.pv.kernelSs = 0xe021;
    r.m.domain.pv.kernelSp = r.data + 0x1000;
    r.m.domain.upcallMask = 1;
    runTo(r, 'sys');
    const c = r.m.cpu;
    expect(c.r32[R.EBX]! & 0xffff).toBe(0xe02b); // was in ring 3
    expect(c.r32[R.EAX]).toBe(0x1234); // restored by iret
    expect(c.cpl).toBe(1);
    expect(c.segSel[Seg.SS]).toBe(0xe021);
    const sp = c.r32[R.ESP]! >>> 0;
    expect(sp).toBe(r.data + 0x1000 - 20);
    expect(r.rd(sp)).toBe(r.at('back'));
    expect(r.rd(sp + 4)).toBe(0xe02b); // mask was 0 after iret with IF=1
    expect(r.rd(sp + 12)).toBe(r.at('ustack_top'));
    expect(r.rd(sp + 16)).toBe(0xe033);
    expect(r.m.domain.upcallMask).toBe(0);

    // Now the same from ring 3 with a DPL-1 gate: #GP(vector*8+2) at the INT.
    const r2 = rig(`
      pushl $0xe033
      pushl $ustack_top
      pushl $0x202
      pushl $0xe02b
      pushl $user
      pushl $0
      movl $23, %eax
      int $0x82
    user:
      int $0x81
    gp: jmp gp
      .p2align 4
    ustack: .fill 64, 1, 0
    ustack_top:`);
    userify(r2, r2.code);
    setTrap(r2, 0x81, 'gp', 1);
    setTrap(r2, 13, 'gp');
    r2.m.domain.pv.kernelSs = 0xe021;
    r2.m.domain.pv.kernelSp = r2.data + 0x1000;
    runTo(r2, 'gp');
    const sp2 = r2.m.cpu.r32[R.ESP]! >>> 0;
    expect(r2.rd(sp2)).toBe(0x81 * 8 + 2);
    expect(r2.rd(sp2 + 4)).toBe(r2.at('user')); // at the INT, not past it
  });

  it('treats int $0x82 from ring 3 as #GP, not a hypercall', () => {
    const r = rig(`
      pushl $0xe033
      pushl $ustack_top
      pushl $0x202
      pushl $0xe02b
      pushl $user
      pushl $0
      movl $23, %eax
      int $0x82
    user:
      movl $18, %eax
      int $0x82
    gp: jmp gp
      .p2align 4
    ustack: .fill 64, 1, 0
    ustack_top:`);
    userify(r, r.code);
    setTrap(r, 13, 'gp');
    r.m.domain.pv.kernelSs = 0xe021;
    r.m.domain.pv.kernelSp = r.data + 0x1000;
    const before = r.m.domain.log.length;
    runTo(r, 'gp');
    expect(r.rd(r.m.cpu.r32[R.ESP]! >>> 0)).toBe(0x82 * 8 + 2);
    expect(r.m.domain.log.length).toBe(before + 1); // only the iret
  });

  it('crashes the domain when a trap has no handler', () => {
    const r = rig(`int3`);
    const e = r.m.runToEnd(1000);
    expect(e?.kind).toBe('crash');
    expect(e && e.kind === 'crash' ? e.message : '').toMatch(/unhandled #BP|no trap-table entry for vector 3/);
  });

  it('crashes the domain when the bounce frame cannot be written', () => {
    const r = rig(`
      movl $0x3ff00000, %esp
      ud2
    dummy: jmp dummy`);
    setTrap(r, 6, 'dummy');
    const e = r.m.runToEnd(1000);
    expect(e?.kind).toBe('crash');
    expect(e && e.kind === 'crash' ? e.message : '').toMatch(/fault writing the bounce frame/);
  }, 10_000);
});

describe('PV privileged-op emulation', () => {
  it('emulates mov from CR0/CR2/CR3/CR4, clts, wbinvd and a same-value CR3 load', () => {
    const r = rig(`
      movl 0x3ff00000, %eax
    resume:
      movl %cr2, %eax
      movl %cr3, %ebx
      movl %cr0, %ecx
      movl %cr4, %edx
      clts
      wbinvd
      movl %ebx, %cr3
    done: jmp done
    pf:
      addl $4, %esp        /* drop the error code */
      movl $resume, (%esp) /* resume after the faulting load */
      iret`);
    setTrap(r, 14, 'pf');
    runTo(r, 'done');
    const c = r.m.cpu;
    expect(c.r32[R.EAX]! >>> 0).toBe(0x3ff00000);
    expect(c.r32[R.EBX]! >>> 0).toBe(r.m.boot.cr3 >>> 0);
    expect(c.r32[R.ECX]! >>> 0).toBe(0x80050033);
    expect(c.r32[R.EDX]! >>> 0).toBe(0x20);
  });

  it('bounces hlt, cli and a CR0 change other than TS as #GP', () => {
    for (const insn of ['hlt', 'cli', 'movl $0x11, %eax\n movl %eax, %cr0']) {
      const r = rig(`${insn}\n gp: jmp gp`);
      setTrap(r, 13, 'gp');
      runTo(r, 'gp');
      expect(r.rd(r.m.cpu.r32[R.ESP]! >>> 0)).toBe(0); // #GP(0)
    }
  });

  it('runs the forced-emulation CPUID (ud2; "xen"; cpuid) with the Xen leaves', () => {
    const r = rig(`
      movl $0x40000000, %eax
      .byte 0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2
    done: jmp done`);
    runTo(r, 'done');
    const c = r.m.cpu;
    expect(c.r32[R.EBX]! >>> 0).toBe(0x566e6558); // "XenV"
    expect(c.r32[R.ECX]! >>> 0).toBe(0x65584d4d);
    expect(c.r32[R.EDX]! >>> 0).toBe(0x4d4d566e);
  });
});

describe('PV address space and descriptors', () => {
  it('maps the M2P read-only at 0xF5800000; writes and the rest of the hole fault', () => {
    const r = rig(`
      movl 0xf5800000 + 4 * 5, %eax
      movl %eax, 0xf5800000
    w: jmp w
    pf: jmp pf`);
    setTrap(r, 14, 'pf');
    runTo(r, 'pf');
    const c = r.m.cpu;
    expect(c.r32[R.EAX]).toBe(5); // identity M2P
    expect(r.rd(c.r32[R.ESP]! >>> 0)).toBe(3); // present | write
    expect(c.cr2 >>> 0).toBe(0xf5800000);

    const r2 = rig(`movl 0xfc000000, %eax\n pf: jmp pf`);
    setTrap(r2, 14, 'pf');
    runTo(r2, 'pf');
    expect(r2.rd(r2.m.cpu.r32[R.ESP]! >>> 0)).toBe(0); // not present
  });

  it("loads Xen's reserved selectors with no guest GDT; other selectors #GP", () => {
    const r = rig(`
      movl $0xe033, %eax
      movl %eax, %ds
      movl $0x0008, %eax
      movl %eax, %es
    gp: jmp gp`);
    setTrap(r, 13, 'gp');
    runTo(r, 'gp');
    expect(r.m.cpu.segSel[Seg.DS]).toBe(0xe033);
    expect(r.rd(r.m.cpu.r32[R.ESP]! >>> 0)).toBe(8);
  });

  it('takes descriptors from set_gdt frames and raises DPL 0 to 1', () => {
    const r = rig(`
      movl $0x10, %eax
      movl %eax, %ds
    done: jmp done`);
    const frame = (r.data >>> 12) + 1;
    // Entry 2: flat data, DPL 0 (Xen fixes it up to DPL 1).
    r.m.mem.write32(frame * 4096 + 16, 0x0000ffff);
    r.m.mem.write32(frame * 4096 + 20, 0x00cf9200);
    r.m.domain.pv.gdtFrames = [frame];
    r.m.domain.pv.gdtEntries = 16;
    runTo(r, 'done');
    expect(r.m.cpu.segSel[Seg.DS]).toBe(0x10);
    expect((r.m.cpu.segAttr[Seg.DS]! >>> 5) & 3).toBe(1);
    expect(r.m.mem.read32(frame * 4096 + 20) & 0x100).toBe(0x100); // accessed
  });
});
