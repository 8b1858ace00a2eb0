/**
 * Miscellaneous: XCHG, CMPXCHG, CMPXCHG8B, XADD, LAHF, SAHF, XLAT, CLC/STC/CMC/CLD/STD, NOP forms, UD2, CPUID, RDTSC, SALC.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
