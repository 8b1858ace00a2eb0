/**
 * Registers every hypercall the VMM implements into a domain's table. Each
 * module owns one Xen subsystem (Solo5-style registration); numbers not
 * registered, or not available to the guest type, return -ENOSYS.
 */
import type { Domain } from '../domain.js';
import { registerTrapHypercalls } from './traps.js';
import { registerMmHypercalls } from './mm.js';
import { registerConsoleHypercalls } from './console.js';
import { registerVersionHypercalls } from './version.js';
import { registerSchedHypercalls } from './sched.js';
import { registerMemoryHypercalls } from './memory.js';
import { registerHvmHypercalls } from './hvm.js';
import { registerVcpuHypercalls } from './vcpu.js';
import { registerMulticall } from './multicall.js';
import { registerEvtchnHypercalls } from './evtchn.js';
import { registerGnttabHypercalls } from './gnttab.js';

export function registerHypercalls(dom: Domain): void {
  registerTrapHypercalls(dom);
  registerMmHypercalls(dom);
  registerConsoleHypercalls(dom);
  registerVersionHypercalls(dom);
  registerSchedHypercalls(dom);
  registerMemoryHypercalls(dom);
  registerHvmHypercalls(dom);
  registerVcpuHypercalls(dom);
  registerMulticall(dom);
  registerEvtchnHypercalls(dom);
  registerGnttabHypercalls(dom);
}
