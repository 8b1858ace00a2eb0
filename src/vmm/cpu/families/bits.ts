/**
 * Bit instructions: BT, BTS, BTR, BTC (register and memory bit-offset forms), BSF, BSR, SETcc, CMOVcc, BSWAP.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
