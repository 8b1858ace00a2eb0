/**
 * Multiply, divide, sign extension and decimal adjust: MUL, IMUL (all three forms), DIV, IDIV, CBW/CWDE, CWD/CDQ, DAA, DAS, AAA, AAS, AAM, AAD.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
