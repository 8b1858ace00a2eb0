/**
 * Xen's public header io/console.h: the PV console page.
 *
 * Mirrors templates/minios/include/xen/io/console.h. The guest writes
 * out[] at out_prod and signals; the backend consumes from out_cons.
 * in[] runs backend → guest. Indices are free-running, masked with the
 * array size − 1.
 */
import { constants, struct } from './layout.js';

export const XENCONSOLE = constants('XENCONSOLE_', { CONNECTED: 0, DISCONNECTED: 1 });

/** 3089 bytes used, sizeof 3092. */
export const XENCONS_INTERFACE = struct('struct xencons_interface', 3092, {
  in: [0, 'char[1024]'],
  out: [1024, 'char[2048]'],
  in_cons: [3072, 'u32'],
  in_prod: [3076, 'u32'],
  out_cons: [3080, 'u32'],
  out_prod: [3084, 'u32'],
  connection: [3088, 'u8'],
});

/** Ring array sizes (no C constants; C uses sizeof of the arrays). */
export const XENCONS_RING = Object.freeze({ inSize: 1024, outSize: 2048 });

/** Offset in in[] / out[] of free-running index idx. */
export function xenconsInIndex(idx: number): number {
  return (idx >>> 0) & (XENCONS_RING.inSize - 1);
}
export function xenconsOutIndex(idx: number): number {
  return (idx >>> 0) & (XENCONS_RING.outSize - 1);
}
