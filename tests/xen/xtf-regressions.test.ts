/**
 * Regressions found by running the Xen Test Framework (XTF, andyhhp/xtf)
 * under xenkit; each test names the XTF test that exposed the bug and
 * checks the Xen rule it relies on, on a small snippet guest:
 *
 *  - debug-regs (pv32pae): a PV guest's emulated `mov %dr6/%dr7` read
 *    X86_DR6_DEFAULT / X86_DR7_DEFAULT at boot and keep the fixed bits on
 *    write; set_debugreg refuses DR7.GD and I/O breakpoints without CR4.DE.
 *  - debug-regs (hvm32): IA32_DEBUGCTL reads as 0 for a PVH guest.
 *  - xsa-213 (pv32pae): iret inside a multicall is performed and ends the
 *    batch, leaving the iret frame's EAX as the multicall's result.
 *  - pv-iopl (pv32pae, "vmassist"): VMASST_TYPE_architectural_iopl is
 *    refused, since xenkit has no virtual IOPL to honour it.
 */
import { describe, expect, it } from 'vitest';
import { R } from '../../src/vmm/cpu/cpu.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { HYPERCALL, VMASST_CMD, VMASST_TYPE } from '../../src/vmm/xen/abi/xen.js';
import { pvRig, pvhRig, regs, runTo, setGate, type Rig } from './rig.js';

/** Point PV trap `vector` at the snippet label `label` (ring-1 code selector 0xe019). */
function pvTrap(r: Rig, vector: number, label: string): void {
  const pv = r.m.domain.pv;
  pv.trapCs[vector] = 0xe019;
  pv.trapEip[vector] = r.at(label);
  pv.trapFlags[vector] = 0;
}

describe('XTF debug-regs: PV debug registers', () => {
  it('read DR6 = 0xffff0ff0 and DR7 = 0x400 at boot, with DR4/DR5 as aliases', () => {
    const r = pvRig(`
      movl %dr6, %eax
      movl %dr7, %ebx
      movl %dr4, %ecx
      movl %dr5, %edx
    done: jmp done`);
    runTo(r, 'done');
    expect(regs(r.m)).toMatchObject({ eax: 0xffff0ff0, ebx: 0x400, ecx: 0xffff0ff0, edx: 0x400 });
  });

  it('keep the fixed bits on write and read DR0-DR3 back unchanged', () => {
    const r = pvRig(`
      xorl %eax, %eax
      movl %eax, %dr6
      movl $0xffffffff, %eax
      movl %eax, %dr6
      movl %dr6, %ebx
      movl $0x000f0001, %eax   /* L0, R/W0 = 11b (read/write), LEN0 = 4 bytes */
      movl %eax, %dr7
      movl %dr7, %ecx
      movl $0x12345678, %eax
      movl %eax, %dr0
      movl %dr0, %edx
    done: jmp done`);
    runTo(r, 'done');
    // DR6: bit 12 reads 0, the rest of 31:4 read 1 (Xen's x86_adj_dr6_rsvd).
    expect(regs(r.m)).toMatchObject({ ebx: 0xffffefff, ecx: 0x000f0401, edx: 0x12345678 });
  });

  it('#GP on a DR7 write with GD, or with an enabled I/O breakpoint while CR4.DE is clear', () => {
    for (const v of ['0x2000', '0x00020001', '0x20000080']) {
      const r = pvRig(`
        movl $${v}, %eax
        movl %eax, %dr7
      after: jmp after
      gp: jmp gp`);
      pvTrap(r, 13, 'gp');
      runTo(r, 'gp');
      expect(r.rd(r.m.cpu.r32[R.ESP]! >>> 0)).toBe(0); // #GP(0)
    }
    // An I/O R/W encoding with every enable bit clear is stored as is (Xen checks only active DR7s).
    const r = pvRig(`
      movl $0x00020000, %eax
      movl %eax, %dr7
      movl %dr7, %ebx
    done: jmp done`);
    runTo(r, 'done');
    expect(regs(r.m).ebx).toBe(0x00020400);
  });
});

describe('XTF debug-regs: PVH IA32_DEBUGCTL', () => {
  it('reads as 0; writing 0 is accepted, other values #GP', () => {
    const r = pvhRig(`
    main:
      ${setGate(13, 'gp')}
      movl $0x1d9, %ecx
      movl $0xdeadbeef, %eax
      movl $0xdeadbeef, %edx
      rdmsr
      movl %eax, %ebx
      movl %edx, %esi
      xorl %eax, %eax
      xorl %edx, %edx
      wrmsr
    written:
      movl $1, %eax
      wrmsr
    after: jmp after
    gp: jmp gp`);
    runTo(r, 'written');
    expect(regs(r.m).ebx).toBe(0);
    expect(r.m.cpu.r32[R.ESI]! >>> 0).toBe(0);
    runTo(r, 'gp');
  });
});

describe('XTF xsa-213: iret inside a multicall', () => {
  it('performs the iret, ends the batch and leaves the frame EAX as the result', () => {
    const r = pvRig(`
      movl %esp, %edi
      pushl $0x202             /* EFLAGS */
      pushl $0xe019            /* CS: back to ring 1 */
      pushl $landed            /* EIP */
      pushl $0xdead            /* EAX restored by the iret */
      movl $13, %eax           /* multicall */
      movl $list, %ebx
      movl $2, %ecx
      int $0x82
    returned: jmp returned
    landed: jmp landed
      .p2align 5
    list:
      .long 23, 0xeeeeeeee, 0, 0, 0, 0, 0, 0          /* iret */
      .long 17, 0xeeeeeeee, 0, 0, 0, 0, 0, 0          /* xen_version(XENVER_version) */`);
    runTo(r, 'landed');
    const g = regs(r.m);
    expect(g.eax).toBe(0xdead);
    expect(g.esp).toBe(r.m.cpu.r32[R.EDI]! >>> 0); // the whole frame popped
    expect(r.rd(r.at('list') + 4)).toBe(0xdead); // the iret entry's result
    expect(r.rd(r.at('list') + 32 + 4)).toBe(0xeeeeeeee); // xen_version never ran
    expect(r.m.domain.upcallMask).toBe(0); // IF was set in the frame
  });

  it('a PVH multicall has no iret: -ENOSYS for that entry and the batch goes on', () => {
    const r = pvhRig(`
    main:
      movl $13, %eax
      movl $list, %ebx
      movl $2, %ecx
      vmcall
    done: jmp done
      .p2align 5
    list:
      .long 23, 0xeeeeeeee, 0, 0, 0, 0, 0, 0
      .long 17, 0xeeeeeeee, 0, 0, 0, 0, 0, 0`);
    runTo(r, 'done');
    expect(regs(r.m).eax).toBe(0);
    expect(r.rd(r.at('list') + 4) | 0).toBe(-XEN_ERRNO.ENOSYS);
    expect(r.rd(r.at('list') + 36)).toBe(0x40013); // 4.19
  });
});

describe('XTF pv-iopl: VMASST_TYPE_architectural_iopl', () => {
  it('is refused with -EINVAL (no virtual IOPL); the other PV32 assists are still accepted', () => {
    const r = pvRig('done: jmp done');
    const dom = r.m.domain;
    const call = (cmd: number, type: number): number =>
      dom.hypercalls.dispatch('pv', { nr: HYPERCALL.vm_assist, args: [cmd, type, 0, 0, 0, 0], cpl: 1, guest: dom.guest });
    const before = dom.vmAssist;
    expect(call(VMASST_CMD.enable, VMASST_TYPE.architectural_iopl)).toBe(-XEN_ERRNO.EINVAL);
    expect(dom.vmAssist).toBe(before);
    expect(call(VMASST_CMD.enable, VMASST_TYPE.runstate_update_flag)).toBe(0);
  });
});
