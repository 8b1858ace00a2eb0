/**
 * Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR (D0-D3, C0, C1), SHLD, SHRD.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
