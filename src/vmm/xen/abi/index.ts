/**
 * Xen's guest ABI for x86_32 (interface version 0x00041300) as data: one
 * module per Xen public header, each mirroring a C header of the guest
 * template (templates/minios/include/xen). See layout.ts for the shapes.
 *
 * ABI_MODULES ties each module to its C header so that
 * tests/xen/abi-layout.test.ts can probe every exported layout and
 * constant with gcc -m32; a new module must be listed there.
 */
import * as blkif from './blkif.js';
import * as callback from './callback.js';
import * as consoleRing from './console.js';
import * as elfnote from './elfnote.js';
import * as errno from './errno.js';
import * as eventChannel from './event-channel.js';
import * as grantTable from './grant-table.js';
import * as hvm from './hvm.js';
import * as hvmStartInfo from './hvm-start-info.js';
import * as memory from './memory.js';
import * as netif from './netif.js';
import * as ring from './ring.js';
import * as sched from './sched.js';
import * as vcpu from './vcpu.js';
import * as version from './version.js';
import * as xen from './xen.js';
import * as xenbus from './xenbus.js';
import * as xsWire from './xs-wire.js';

export * from './layout.js';
export * from './blkif.js';
export * from './callback.js';
export * from './console.js';
export * from './elfnote.js';
export * from './errno.js';
export * from './event-channel.js';
export * from './grant-table.js';
export * from './hvm.js';
export * from './hvm-start-info.js';
export * from './memory.js';
export * from './netif.js';
export * from './ring.js';
export * from './sched.js';
export * from './vcpu.js';
export * from './version.js';
export * from './xen.js';
export * from './xenbus.js';
export * from './xs-wire.js';

export interface AbiModule {
  /** Module file, for messages. */
  readonly name: string;
  /** The xenkit C header(s) it mirrors, relative to templates/minios/include. */
  readonly headers: readonly string[];
  /** The Xen public header(s) it corresponds to, relative to xen/include/public. */
  readonly xenHeaders: readonly string[];
  /** The module's exports. */
  readonly exports: Readonly<Record<string, unknown>>;
}

export const ABI_MODULES: readonly AbiModule[] = Object.freeze([
  { name: 'xen.ts', headers: ['xen/xen.h'], xenHeaders: ['xen.h'], exports: xen },
  { name: 'errno.ts', headers: ['xen/errno.h'], xenHeaders: ['errno.h'], exports: errno },
  { name: 'sched.ts', headers: ['xen/sched.h'], xenHeaders: ['sched.h'], exports: sched },
  { name: 'version.ts', headers: ['xen/version.h', 'xen/features.h'], xenHeaders: ['version.h', 'features.h'], exports: version },
  { name: 'memory.ts', headers: ['xen/memory.h'], xenHeaders: ['memory.h'], exports: memory },
  { name: 'vcpu.ts', headers: ['xen/vcpu.h'], xenHeaders: ['vcpu.h'], exports: vcpu },
  { name: 'callback.ts', headers: ['xen/callback.h'], xenHeaders: ['callback.h'], exports: callback },
  { name: 'event-channel.ts', headers: ['xen/event_channel.h'], xenHeaders: ['event_channel.h'], exports: eventChannel },
  { name: 'grant-table.ts', headers: ['xen/grant_table.h'], xenHeaders: ['grant_table.h'], exports: grantTable },
  { name: 'hvm.ts', headers: ['xen/hvm/hvm_op.h', 'xen/hvm/params.h'], xenHeaders: ['hvm/hvm_op.h', 'hvm/params.h'], exports: hvm },
  { name: 'hvm-start-info.ts', headers: ['xen/hvm/start_info.h'], xenHeaders: ['arch-x86/hvm/start_info.h'], exports: hvmStartInfo },
  { name: 'elfnote.ts', headers: ['xen/elfnote.h'], xenHeaders: ['elfnote.h'], exports: elfnote },
  { name: 'ring.ts', headers: ['xen/io/ring.h'], xenHeaders: ['io/ring.h'], exports: ring },
  { name: 'console.ts', headers: ['xen/io/console.h'], xenHeaders: ['io/console.h'], exports: consoleRing },
  { name: 'xs-wire.ts', headers: ['xen/io/xs_wire.h'], xenHeaders: ['io/xs_wire.h'], exports: xsWire },
  { name: 'xenbus.ts', headers: ['xen/io/xenbus.h'], xenHeaders: ['io/xenbus.h'], exports: xenbus },
  { name: 'blkif.ts', headers: ['xen/io/blkif.h'], xenHeaders: ['io/blkif.h'], exports: blkif },
  { name: 'netif.ts', headers: ['xen/io/netif.h'], xenHeaders: ['io/netif.h'], exports: netif },
]);
