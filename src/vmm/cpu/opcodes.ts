/**
 * Builds the complete opcode table from the instruction families.
 *
 * Each family file owns a disjoint set of opcodes and registers them here;
 * a slot registered twice is a startup error, so overlaps cannot go
 * unnoticed. The table is built once per process and shared by every CPU.
 */
import { OpTable } from './table.js';
import * as alu from './families/alu.js';
import * as mov from './families/mov.js';
import * as control from './families/control.js';
import * as muldiv from './families/muldiv.js';
import * as shift from './families/shift.js';
import * as bits from './families/bits.js';
import * as string from './families/string.js';
import * as stack from './families/stack.js';
import * as misc from './families/misc.js';
import * as fpu from './families/fpu.js';
import * as system from './families/system.js';
import * as sysregs from './families/sysregs.js';

function build(): OpTable {
  const t = new OpTable();
  for (const family of [alu, mov, control, muldiv, shift, bits, string, stack, misc, fpu, system, sysregs]) {
    family.register(t);
  }
  return t;
}

/** The shared opcode table. */
export const OPCODES: OpTable = build();
