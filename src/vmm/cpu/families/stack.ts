/**
 * Stack instructions: PUSH/POP of registers, memory and immediates, PUSHA/POPA, PUSHF/POPF, ENTER, LEAVE.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
