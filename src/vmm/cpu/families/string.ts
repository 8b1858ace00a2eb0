/**
 * String instructions: MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
