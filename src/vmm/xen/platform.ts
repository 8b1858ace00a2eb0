/**
 * What the guest's CPU sees of the platform besides hypercalls: Xen's
 * CPUID leaves, the hypercall-page MSR, and the (absent) devices.
 *
 * CPUID 0x40000000.. (reference §2.3, Xen's cpuid.h): base reports
 * "XenVMMXenVMM" and the highest leaf; base+1 the Xen version; base+2 one
 * hypercall page behind MSR 0x40000000; base+3 TSC info (zeros: no TSC
 * mode information); base+4 HVM features with the vCPU id and domid
 * present. PV guests see the same leaves (through native CPUID or the
 * forced-emulation prefix).
 *
 * WRMSR 0x40000000 (PVH): the guest-physical address of a page to fill
 * with the HVM hypercall stubs (`mov $n,%eax; vmcall; ret`, slot 23 `ud2`);
 * bits 11:0 select the page index and must be 0. IA32_DEBUGCTL (0x1D9,
 * architectural since the P6) reads as 0, as Xen's vmx/svm MSR intercepts
 * return the guest's (initially zero) DEBUGCTL to an HVM/PVH guest; a
 * write of 0 is accepted and any other value #GPs (no LBR, BTF or trace
 * message support to enable). Other MSRs #GP (no LAPIC:
 * `rdmsr 0x1b` must fault, XTF checks). Port I/O reads float high; port
 * 0xE9 writes go to the console (the Bochs/QEMU debug port, handy for
 * early boot code).
 */
import type { CpuHost } from '../cpu/cpu.js';
import type { Domain } from './domain.js';

export const XEN_CPUID_BASE = 0x40000000;
export const XEN_HYPERCALL_MSR = 0x40000000;
/** IA32_DEBUGCTL. */
export const MSR_DEBUGCTL = 0x1d9;
/** The Xen version xenkit reports (major << 16 | minor): 4.19. */
export const XEN_VERSION_MAJOR = 4, XEN_VERSION_MINOR = 19;
/** base+4 EAX bits: VCPU_ID_PRESENT, DOMID_PRESENT. */
const HVM_VCPU_ID_PRESENT = 1 << 3, HVM_DOMID_PRESENT = 1 << 4;
/** 0x40000000 EBX/ECX/EDX: "XenVMMXenVMM". */
const SIG = [0x566e6558, 0x65584d4d, 0x4d4d566e] as const;

/** The HVM hypercall page: `mov $n,%eax; vmcall; ret` per 32-byte slot; slot 23 (iret) is `ud2`. */
export function hvmHypercallPage(): Uint8Array {
  const p = new Uint8Array(4096).fill(0xcc);
  for (let n = 0; n < 128; n++) {
    const o = n * 32;
    if (n === 23) p.set([0x0f, 0x0b], o);
    else p.set([0xb8, n, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3], o);
  }
  return p;
}

export class XenPlatform implements CpuHost {
  constructor(private readonly dom: Domain) {}

  ioIn(_port: number, size: number): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
  }

  ioOut(port: number, size: number, value: number): void {
    if (port === 0xe9 && size === 1) this.dom.console.write(Uint8Array.of(value & 0xff));
  }

  rdmsr(index: number): [number, number] | null {
    if (index >>> 0 === MSR_DEBUGCTL && this.dom.type === 'pvh') return [0, 0];
    return null;
  }

  wrmsr(index: number, lo: number, hi: number): boolean {
    if (index >>> 0 === MSR_DEBUGCTL && this.dom.type === 'pvh') return lo === 0 && hi === 0;
    if (index >>> 0 !== XEN_HYPERCALL_MSR || this.dom.type !== 'pvh') return false;
    if ((lo & 0xfff) !== 0 || hi !== 0) return false;
    const pa = lo >>> 0;
    if (!this.dom.mem.contains(pa, 4096) || pa >= this.dom.nrPages * 4096) return false;
    this.dom.mem.writeBytes(pa, hvmHypercallPage());
    return true;
  }

  cpuid(leaf: number, _subleaf: number, out: Int32Array): boolean {
    const base = XEN_CPUID_BASE;
    if (leaf < base || leaf > base + 4) return false;
    out.fill(0);
    switch (leaf - base) {
      case 0: out[0] = base + 4; out[1] = SIG[0]; out[2] = SIG[1]; out[3] = SIG[2]; break;
      case 1: out[0] = (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR; break;
      case 2: out[0] = 1; out[1] = XEN_HYPERCALL_MSR; break;
      case 3: break;
      case 4: out[0] = HVM_VCPU_ID_PRESENT | HVM_DOMID_PRESENT; out[1] = 0; out[2] = this.dom.domid; break;
    }
    return true;
  }
}
