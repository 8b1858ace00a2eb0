/**
 * Xen PV trap delivery for a 32-bit guest kernel in ring 1 (reference §4):
 * the `Delivery` the CPU calls for every exception and INT n.
 *
 *  - `int $0x82` from ring 1 is the hypercall trap: the run loop returns
 *    Exit.HYPERCALL with EIP past the INT (from ring 3 it is #GP, as the
 *    IDT gate's DPL is 1).
 *  - `int n` is delivered when CPL <= the trap-table entry's DPL, else it
 *    becomes #GP(n*8+2) at the INT; hardware exceptions, int3 and into
 *    ignore the DPL (Xen's IDT gates for vectors 3 and 4 are DPL 3).
 *  - Before bouncing, #GP from ring 1 goes through Xen's privileged-op
 *    emulation and #UD through the forced-emulation prefix (privop.ts).
 *  - #PF stores the faulting address in vcpu_info.arch.cr2 (and the
 *    guest-visible CR2).
 *  - The bounce frame (Xen's compat_create_bounce_frame): from ring 2 or 3
 *    (Xen tests bit 1 of the saved CS RPL) the stack switches to
 *    kernel_ss:kernel_sp and SS, ESP are pushed; then EFLAGS (IF = !saved
 *    upcall mask, IOPL 0), CS | mask << 16, EIP and the error code. TF,
 *    VM, RF and NT are cleared; the trap's "mask events" flag (always, for
 *    the event callback) sets the upcall mask.
 *  - A missing handler, an unusable handler CS or kernel stack, or a fault
 *    while writing the frame crashes the domain (Xen's domain_crash), which
 *    the VMM reports; nothing here throws a CpuFault for an exception, so a
 *    PV guest never double- or triple-faults.
 *
 * Event upcalls (reference §4 "Upcall delivery") use the same frame: the
 * machine calls `deliverEventUpcall` when evtchn_upcall_pending is set and
 * evtchn_upcall_mask is clear, which bounces to the event callback
 * (set_callbacks / CALLBACKOP_register) with no error code and the mask set
 * (Xen's TBF_INTERRUPT). With no callback registered the domain crashes, as
 * Xen's bounce to a null selector does.
 *
 * The iret hypercall (slot 23) lives here too: it is the inverse of a
 * bounce. When the frame's CS or SS cannot be loaded, Xen's own `iret`
 * faults and Xen enters the guest's failsafe callback instead: a bounce
 * whose frame also holds the data selectors, lowest address first
 * `DS, ES, FS, GS, EIP, CS | mask << 16, EFLAGS [, ESP, SS]` (the
 * CS:EIP, EFLAGS and stack that failed to load), on the kernel stack for a
 * return to ring 2/3 and below the iret frame for ring 1;
 * CALLBACKF_mask_events on the failsafe registration masks events. With no
 * failsafe callback the domain crashes.
 */
import { Acc, Cpu, Exit, IntKind, R, Seg, type Delivery } from '../../cpu/cpu.js';
import { CpuFault, Vec, VECTOR_NAMES } from '../../cpu/fault.js';
import { AC, ARITH, DF, FIXED1, ID, IF, IOPL, NT, RF, TF, VM, readEflags } from '../../cpu/flags.js';
import { translate } from '../../cpu/mmu.js';
import {
  Desc, commitCS, descDpl, descIsCode, descPresent, descWritableData, loadCacheFrom, nullInaccessibleSegments, readDesc,
} from '../../cpu/segments.js';
import type { Domain } from '../domain.js';
import { NO_RESULT } from '../hypercalls.js';
import { emulateForcedInvalidOp, emulatePrivOp } from './privop.js';

/** The hypercall trap vector of 32-bit PV guests. */
export const HYPERCALL_VECTOR = 0x82;
/** trap_info.flags: bits 0-1 DPL, bit 2 mask events on entry. */
export const TI_DPL = 3, TI_MASK_EVENTS = 4;

const D_CS = new Desc();
const D_SS = new Desc();

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** A guest code selector as Xen fixes it up: RPL 0 becomes the kernel's RPL 1. */
export function fixupCodeSelector(sel: number): number {
  return (sel & 3) === 0 ? sel | 1 : sel;
}

export class PvDelivery implements Delivery {
  constructor(private readonly dom: Domain) {}

  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    const dom = this.dom, pv = dom.pv;
    cpu.halted = false;
    if (dom.stop !== null) {
      cpu.requestExit(Exit.STOPPED);
      return;
    }
    if (kind === IntKind.SOFTWARE) {
      if (vector === HYPERCALL_VECTOR && cpu.cpl <= 1) {
        cpu.requestExit(Exit.HYPERCALL);
        return;
      }
      // Xen's own IDT lets int3 and into through from any ring and injects
      // them as hardware exceptions; every other INT n is checked against
      // the guest's trap-table DPL and becomes #GP(n*8+2) at the INT.
      if (vector !== Vec.BP && vector !== Vec.OF && cpu.cpl > (pv.trapFlags[vector]! & TI_DPL)) {
        throw new CpuFault(Vec.GP, vector * 8 + 2);
      }
      this.bounceTrap(cpu, vector, -1);
      return;
    }
    if (kind === IntKind.EXCEPTION) {
      if (vector === Vec.GP && cpu.cpl === 1 && emulatePrivOp(dom)) return;
      if (vector === Vec.UD && emulateForcedInvalidOp(dom)) return;
      if (vector === Vec.PF) dom.setGuestCr2(cpu.cr2);
    }
    this.bounceTrap(cpu, vector, errorCode);
  }

  /** Bounce `vector` to the guest's trap-table handler. */
  private bounceTrap(cpu: Cpu, vector: number, errorCode: number): void {
    const pv = this.dom.pv;
    const cs = pv.trapCs[vector]!, eip = pv.trapEip[vector]!;
    if ((cs & 0xfffc) === 0 && eip === 0) {
      const what = vector < 32 ? VECTOR_NAMES[vector] ?? `vector ${vector}` : `int $${hex(vector)}`;
      this.dom.crash(`unhandled ${what} (no trap-table entry for vector ${vector})`, vector, errorCode);
      return;
    }
    bounce(this.dom, cs, eip, errorCode, (pv.trapFlags[vector]! & TI_MASK_EVENTS) !== 0, `vector ${vector}`);
  }
}

/** The context a bounce frame records: by default the vCPU's current registers. */
export interface BounceFrom {
  eip: number;
  cs: number;
  /** EFLAGS image before IF and IOPL are replaced. */
  eflags: number;
  esp: number;
  ss: number;
}

/**
 * Build a bounce frame and enter the guest kernel at cs:eip (reference §4).
 * `from` replaces the interrupted context (the failsafe callback records
 * the frame that failed to load); `segs` adds DS, ES, FS, GS below it
 * (failsafe). Returns false when the domain crashed instead.
 */
export function bounce(
  dom: Domain, cs: number, eip: number, errorCode: number, maskEvents: boolean, what: string,
  from?: BounceFrom, segs?: readonly [number, number, number, number],
): boolean {
  const cpu = dom.cpu, pv = dom.pv;
  const fail = (msg: string): boolean => {
    dom.crash(`cannot deliver ${what}: ${msg}`);
    return false;
  };
  if ((cs & 0xfffc) === 0) return fail(`null handler code selector ${hex(cs)}`);
  const csSel = fixupCodeSelector(cs & 0xffff);
  if (!readDesc(cpu, csSel, D_CS) || !descIsCode(D_CS) || !descPresent(D_CS) || descDpl(D_CS) !== 1) {
    return fail(`handler code selector ${hex(csSel)} is not a present ring-1 code segment`);
  }
  const ctx: BounceFrom = from ?? {
    eip: cpu.eip, cs: cpu.segSel[Seg.CS]!, eflags: readEflags(cpu), esp: cpu.r32[R.ESP]!, ss: cpu.segSel[Seg.SS]!,
  };
  // Xen switches stacks for any outer ring (RPL bit 1 set: rings 2 and 3).
  const fromUser = from !== undefined ? (from.cs & 2) !== 0 : cpu.cpl > 1;
  let ssBase: number, sp: number, ssSel = 0;
  if (fromUser) {
    ssSel = fixupCodeSelector(pv.kernelSs & 0xffff);
    if ((ssSel & 0xfffc) === 0 || !readDesc(cpu, ssSel, D_SS) || !descWritableData(D_SS) || !descPresent(D_SS) ||
      descDpl(D_SS) !== 1 || (ssSel & 3) !== 1) {
      return fail(`kernel stack selector ${hex(pv.kernelSs)} (stack_switch) is not a ring-1 data segment`);
    }
    ssBase = ((D_SS.lo >>> 16) | ((D_SS.hi & 0xff) << 16) | (D_SS.hi & 0xff000000)) | 0;
    sp = pv.kernelSp | 0;
  } else {
    ssBase = cpu.segBase[Seg.SS]!;
    sp = ctx.esp | 0;
  }
  const saved = dom.upcallMask;
  const image = (ctx.eflags & ~(IF | IOPL)) | (saved !== 0 ? 0 : IF);
  const words: number[] = [];
  if (fromUser) words.push(ctx.ss & 0xffff, ctx.esp);
  words.push(image, (ctx.cs & 0xffff) | (saved << 16), ctx.eip);
  if (errorCode >= 0) words.push(errorCode);
  if (segs !== undefined) words.push(segs[3], segs[2], segs[1], segs[0]); // GS highest, DS lowest
  // Translate every slot before writing any (a fault leaves memory untouched).
  const pas: number[] = [];
  let p = sp;
  for (let k = 0; k < words.length; k++) {
    p = (p - 4) | 0;
    const la = (ssBase + p) >>> 0;
    try {
      if ((la & 0xfff) > 0xffc) return fail(`misaligned kernel stack ${hex(la)}`);
      pas.push(translate(cpu, la, Acc.WRITE, false));
    } catch (e) {
      if (e instanceof CpuFault) return fail(`fault writing the bounce frame at ${hex(la)} (stack ${hex(ssBase + sp)})`);
      throw e;
    }
  }
  for (let k = 0; k < words.length; k++) cpu.mem.write32(pas[k]!, words[k]!);
  if (fromUser) loadCacheFrom(cpu, Seg.SS, ssSel, D_SS);
  commitCS(cpu, csSel, D_CS, 1);
  cpu.r32[R.ESP] = p;
  cpu.eip = eip;
  cpu.flags &= ~(TF | VM | RF | NT);
  if (maskEvents) dom.upcallMask = 1;
  cpu.halted = false;
  return true;
}

/**
 * Deliver a pending event upcall to a PV guest: a bounce to the event
 * callback with the upcall mask set and no error code. The caller checked
 * evtchn_upcall_pending && !evtchn_upcall_mask. Returns false when the
 * domain crashed (no callback registered, or an unusable stack).
 */
export function deliverEventUpcall(dom: Domain): boolean {
  const pv = dom.pv;
  if ((pv.eventCs & 0xfffc) === 0) {
    dom.crash('cannot deliver an event upcall: no event callback registered (set_callbacks or CALLBACKOP_register)');
    return false;
  }
  return bounce(dom, pv.eventCs, pv.eventEip, -1, true, 'the event upcall');
}

/**
 * The iret hypercall could not load the frame's CS or SS: enter the
 * failsafe callback with that frame (see the header), or crash the domain
 * with `why` when none is registered. Returns NO_RESULT.
 */
function failsafe(dom: Domain, why: string, eax: number, eip: number, cs: number, img: number, sp: number): number {
  const cpu = dom.cpu, pv = dom.pv;
  if ((pv.failsafeCs & 0xfffc) === 0) {
    dom.crash(why);
    return NO_RESULT;
  }
  let esp = (sp + 16) | 0, ss = cpu.segSel[Seg.SS]!;
  if ((cs & 3) !== 1) {
    const outer = dom.guest.read((cpu.segBase[Seg.SS]! + sp + 16) >>> 0, 8);
    if (outer === null) {
      dom.crash(`iret hypercall: unreadable frame at ${hex(cpu.segBase[Seg.SS]! + sp + 16)}`);
      return NO_RESULT;
    }
    const odv = new DataView(outer.buffer);
    esp = odv.getInt32(0, true);
    ss = odv.getUint32(4, true) & 0xffff;
  }
  // Xen's compat_iret has restored EAX and the upcall mask before its own iret faulted.
  cpu.r32[R.EAX] = eax;
  dom.upcallMask = (img & IF) !== 0 ? 0 : 1;
  const segs = [cpu.segSel[Seg.DS]!, cpu.segSel[Seg.ES]!, cpu.segSel[Seg.FS]!, cpu.segSel[Seg.GS]!] as const;
  bounce(dom, pv.failsafeCs, pv.failsafeEip, -1, pv.failsafeMask, 'the failsafe callback',
    { eip, cs, eflags: (img & ~IOPL) | IF | FIXED1, esp, ss }, segs);
  return NO_RESULT;
}

/**
 * HYPERVISOR_iret (slot 23, entered by jmp after `push %eax`): the stack
 * holds EAX, EIP, CS, EFLAGS and, for a return to ring 2/3, ESP and SS.
 */
export function pvIret(dom: Domain): number {
  const cpu = dom.cpu;
  const ssBase = cpu.segBase[Seg.SS]!;
  const sp = cpu.r32[R.ESP]!;
  const frame = dom.guest.read((ssBase + sp) >>> 0, 16);
  if (frame === null) {
    dom.crash(`iret hypercall: unreadable frame at ${hex(ssBase + sp)}`);
    return NO_RESULT;
  }
  const dv = new DataView(frame.buffer);
  const eax = dv.getInt32(0, true), eip = dv.getInt32(4, true), csRaw = dv.getUint32(8, true) & 0xffff;
  const img = dv.getUint32(12, true);
  if ((img & VM) !== 0) {
    // Xen refuses a return to virtual-8086 mode: #GP to the guest.
    dom.crash('iret hypercall: EFLAGS.VM set in the frame (virtual-8086 mode is not supported for PV guests)');
    return NO_RESULT;
  }
  const ring = csRaw & 3;
  if (ring === 0) {
    dom.crash(`iret hypercall: return to ring 0 (CS ${hex(csRaw)})`);
    return NO_RESULT;
  }
  if (!readDesc(cpu, csRaw, D_CS) || !descIsCode(D_CS) || !descPresent(D_CS) || descDpl(D_CS) !== ring) {
    return failsafe(dom, `iret hypercall: CS ${hex(csRaw)} is not a present ring-${ring} code segment`, eax, eip, csRaw, img, sp);
  }
  let newSp = (sp + 16) | 0;
  let ssSel = -1;
  if (ring !== 1) {
    const outer = dom.guest.read((ssBase + sp + 16) >>> 0, 8);
    if (outer === null) {
      dom.crash(`iret hypercall: unreadable frame at ${hex(ssBase + sp + 16)}`);
      return NO_RESULT;
    }
    const odv = new DataView(outer.buffer);
    newSp = odv.getInt32(0, true);
    ssSel = odv.getUint32(4, true) & 0xffff;
    if ((ssSel & 3) !== ring || !readDesc(cpu, ssSel, D_SS) || !descWritableData(D_SS) || !descPresent(D_SS) ||
      descDpl(D_SS) !== ring) {
      return failsafe(dom, `iret hypercall: SS ${hex(ssSel)} is not a present ring-${ring} data segment`, eax, eip, csRaw, img, sp);
    }
  }
  commitCS(cpu, csRaw, D_CS, ring);
  if (ssSel >= 0) {
    loadCacheFrom(cpu, Seg.SS, ssSel, D_SS);
    nullInaccessibleSegments(cpu, ring);
  }
  cpu.r32[R.ESP] = newSp;
  cpu.eip = eip;
  cpu.r32[R.EAX] = eax;
  // IOPL stripped, hardware IF forced on: the virtual IF is the upcall mask.
  cpu.lfLazy = 0;
  cpu.flags = (img & (ARITH | TF | DF | AC | ID)) | IF | FIXED1;
  dom.upcallMask = (img & IF) !== 0 ? 0 : 1;
  return NO_RESULT;
}
