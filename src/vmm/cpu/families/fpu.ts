/**
 * x87 and SSE/MMX encodings: decoded completely, executed as #NM or #UD.
 *
 * (Placeholder: filled in by the family's implementation.)
 */
import type { OpTable } from '../table.js';

export function register(_t: OpTable): void {}
