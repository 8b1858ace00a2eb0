/**
 * System instructions: segment-register loads, far control transfers,
 * INT/INTO/INT3/IRET, HLT, CLI/STI, IN/OUT/INS/OUTS, descriptor-table and
 * control-register instructions, MSRs, VMCALL.
 */
import { Exit } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { D } from '../insn.js';
import type { OpTable } from '../table.js';

export function register(t: OpTable): void {
  // HLT: privileged (#GP(0) unless CPL 0); halts until an interrupt.
  t.op(0xf4, {
    name: 'hlt', flags: D.ENDS,
    exec: (c) => {
      if (c.cpl !== 0) throw new CpuFault(Vec.GP, 0);
      c.halted = true;
      c.requestExit(Exit.HLT);
    },
  });
}
