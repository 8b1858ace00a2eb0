/**
 * Xen's public header callback.h: callback_op commands, callback types
 * and argument structs (x86_32).
 *
 * Mirrors templates/minios/include/xen/callback.h.
 */
import { constants, struct } from './layout.js';
import { XEN_CALLBACK } from './xen.js';

export const CALLBACKOP = constants('CALLBACKOP_', { register: 0, unregister: 1 });

export const CALLBACKTYPE = constants('CALLBACKTYPE_', {
  event: 0,
  failsafe: 1,
  syscall: 2,
  sysenter_deprecated: 3,
  nmi: 4,
  sysenter: 5,
  syscall32: 7,
});

export const CALLBACKF_mask_events = 1;

export const CALLBACK_REGISTER = struct('struct callback_register', 12, {
  type: [0, 'u16'],
  flags: [2, 'u16'],
  address: [4, XEN_CALLBACK],
  'address.cs': [4, 'u32'],
  'address.eip': [8, 'u32'],
});

export const CALLBACK_UNREGISTER = struct('struct callback_unregister', 4, {
  type: [0, 'u16'],
  _unused: [2, 'u16'],
});
