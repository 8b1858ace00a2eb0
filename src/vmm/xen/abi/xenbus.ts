/**
 * Xen's public header io/xenbus.h: the XenbusState values frontends and
 * backends write (as decimal strings) to their xenstore "state" nodes.
 *
 * Mirrors templates/minios/include/xen/io/xenbus.h.
 */
import { constants, nameOf } from './layout.js';

export const XenbusState = constants('XenbusState', {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
});

/** "Connected" for 4; undefined for values outside the enum. */
export function xenbusStateName(state: number): string | undefined {
  return nameOf(XenbusState, state);
}
