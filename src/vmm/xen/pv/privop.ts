/**
 * The instruction emulation Xen performs for 32-bit PV kernels before it
 * bounces a fault to the guest (Xen's emul-priv-op.c and
 * pv_emulate_forced_invalid_op; reference §4 "Privileged-op emulation").
 *
 * On #GP from ring 1:
 *  - `mov %crN, r32` reads the guest's view: CR0 (with its virtual TS),
 *    CR2 (the last #PF address), CR3 (the machine address of the page-table
 *    base; MFN = PFN here), CR4;
 *  - `mov r32, %crN`: CR0 may only change TS; CR2 is stored; CR3 is
 *    MMUEXT_NEW_BASEPTR plus a TLB flush and must name one of the
 *    domain's frames; CR4 may not change;
 *  - `mov %drN` both ways (DR4/DR5 alias DR6/DR7: a PV guest's CR4.DE is
 *    always clear here). DR6 and DR7 read back with their fixed bits, as
 *    Xen's x86emul_read_dr returns v->arch.dr6 / dr7, which start at
 *    X86_DR6_DEFAULT (0xFFFF0FF0) / X86_DR7_DEFAULT (0x400) and which
 *    set_debugreg stores through x86_adj_dr6_rsvd / x86_adj_dr7_rsvd. Xen's
 *    set_debugreg refuses (#GP) a DR7 with GD set, and a DR7 with any L/G
 *    enable bit and any R/W field naming an I/O breakpoint while CR4.DE is
 *    clear;
 *  - `clts`, `wbinvd`, `invd`.
 * Everything else (hlt, cli/sti without IOPL, lgdt, in/out without I/O
 * permission, rdmsr/wrmsr) is bounced as #GP, as Xen does for a domU.
 *
 * On #UD: the forced-emulation prefix `ud2; .ascii "xen"` followed by
 * `cpuid` (0F 0B 78 65 6E 0F A2) executes CPUID (with the Xen leaves) and
 * skips all seven bytes — Linux's and XTF's XEN_EMULATE_PREFIX.
 *
 * Emulated instructions complete here; a false return means "bounce the
 * fault".
 */
import { CR0_TS, CR4_DE, Seg, type Cpu } from '../../cpu/cpu.js';
import { cpuid } from '../../cpu/families/misc.js';
import { drImage } from '../../cpu/families/sysregs.js';
import type { Domain } from '../domain.js';
import { pageTables } from '../hypercalls/mm.js';

/** Read up to `n` instruction bytes at CS:EIP without side effects (null when unmapped). */
function codeBytes(cpu: Cpu, n: number): Uint8Array | null {
  const la = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
  // Shorten the read so a fetch near the end of the mapping still works.
  for (let len = n; len > 0; len--) {
    const b = cpu.peekLinear(la, len);
    if (b !== null) return b;
  }
  return null;
}

/** Emulate the privileged instruction at CS:EIP; true when done. */
export function emulatePrivOp(dom: Domain): boolean {
  const cpu = dom.cpu;
  const b = codeBytes(cpu, 3);
  if (b === null || b[0] !== 0x0f || b.length < 2) return false;
  const op = b[1]!;
  switch (op) {
    case 0x06: // clts
      cpu.cr0 &= ~CR0_TS;
      cpu.eip = (cpu.eip + 2) | 0;
      return true;
    case 0x08: // invd
    case 0x09: // wbinvd
      cpu.eip = (cpu.eip + 2) | 0;
      return true;
    case 0x20: case 0x21: case 0x22: case 0x23: {
      if (b.length < 3) return false;
      const modrm = b[2]!;
      const n = (modrm >>> 3) & 7, r = modrm & 7; // mod is ignored: always a register operand
      const ok = op === 0x20 ? readCr(dom, n, r) : op === 0x22 ? writeCr(dom, n, cpu.r32[r]! >>> 0)
        : op === 0x21 ? readDr(cpu, n, r) : writeDr(cpu, n, cpu.r32[r]!);
      if (!ok) return false;
      cpu.eip = (cpu.eip + 3) | 0;
      return true;
    }
    default:
      return false;
  }
}

function readCr(dom: Domain, n: number, r: number): boolean {
  const cpu = dom.cpu;
  let v: number;
  switch (n) {
    case 0: v = cpu.cr0; break;
    case 2: v = cpu.cr2; break;
    case 3: v = cpu.cr3; break;
    case 4: v = cpu.cr4; break;
    default: return false;
  }
  cpu.r32[r] = v;
  return true;
}

function writeCr(dom: Domain, n: number, v: number): boolean {
  const cpu = dom.cpu;
  switch (n) {
    case 0:
      // Only TS is the guest's to change.
      if (((v ^ cpu.cr0) & ~CR0_TS) !== 0) return false;
      cpu.cr0 = (cpu.cr0 & ~CR0_TS) | (v & CR0_TS);
      return true;
    case 2:
      cpu.cr2 = v | 0;
      dom.setGuestCr2(v);
      return true;
    case 3:
      // MMUEXT_NEW_BASEPTR: the same validation (the frame must be a valid L3).
      return pageTables(dom).setBase(v >>> 12) === 0;
    case 4:
      return v === (cpu.cr4 >>> 0);
    default:
      return false;
  }
}

/** DR7.GD (general detect): Xen's set_debugreg refuses it. */
const DR7_GD = 0x2000;
/** DR7 L0-G3: any of them makes Xen validate the R/W fields. */
const DR7_ENABLES = 0xff;

function readDr(cpu: Cpu, n: number, r: number): boolean {
  const i = n === 4 ? 6 : n === 5 ? 7 : n;
  cpu.r32[r] = drImage(i, cpu.dr[i]!);
  return true;
}

function writeDr(cpu: Cpu, n: number, v: number): boolean {
  const i = n === 4 ? 6 : n === 5 ? 7 : n;
  if (i === 7) {
    if ((v & DR7_GD) !== 0) return false;
    if ((v & DR7_ENABLES) !== 0 && (cpu.cr4 & CR4_DE) === 0) {
      // R/W = 10b (an I/O breakpoint) in any of the four fields needs CR4.DE.
      for (let f = 16; f < 32; f += 4) if (((v >>> f) & 3) === 2) return false;
    }
  }
  cpu.dr[i] = drImage(i, v);
  return true;
}

/** The forced-emulation CPUID: `0F 0B 'x' 'e' 'n' 0F A2`. */
export function emulateForcedInvalidOp(dom: Domain): boolean {
  const cpu = dom.cpu;
  const b = codeBytes(cpu, 7);
  if (b === null || b.length < 7) return false;
  const sig = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];
  for (let i = 0; i < 7; i++) if (b[i] !== sig[i]) return false;
  cpu.eip = (cpu.eip + 7) | 0;
  cpuid(cpu, cpu.r32[0]! >>> 0, cpu.r32[1]! >>> 0);
  return true;
}
