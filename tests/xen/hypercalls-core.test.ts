/**
 * The core hypercalls (console_io, sched_op(_compat), xen_version,
 * vm_assist, memory_op, hvm_op, vcpu_op, multicall, event_channel_op(_compat),
 * grant_table_op) against Xen's rules: each test builds a Domain over flat
 * memory (paging off, guest VA = PA), writes the argument structs, and calls
 * the hypercall table the way the Machine does. Wild pointers, bad counts,
 * unknown sub-ops, PV-only calls from PVH, and the trace describers on
 * garbage are covered too.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { CR0_PG, CR0_WP } from '../../src/vmm/cpu/cpu.js';
import { Domain, GRANT_FRAMES, type GuestType } from '../../src/vmm/xen/domain.js';
import { registerHypercalls } from '../../src/vmm/xen/hypercalls/index.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { DOMID, HYPERCALL } from '../../src/vmm/xen/abi/xen.js';
import { MAX_CONSOLE_WRITE } from '../../src/vmm/xen/hypercalls/console.js';
import { MAX_MULTICALL } from '../../src/vmm/xen/hypercalls/multicall.js';
import { NO_RESULT } from '../../src/vmm/xen/hypercalls.js';

const E = XEN_ERRNO;
const NR = HYPERCALL;
/** Scratch addresses for argument structs and buffers (all in RAM below 4 MiB). */
const ARG = 0x10000, BUF = 0x20000, BUF2 = 0x28000;
const RAM_PAGES = 4096;
const SI_PENDING = 2048, SI_MASK = 2176;

function setup(type: GuestType = 'pv') {
  const mem = new PhysMemory(RAM_PAGES * 4096, Domain.extraFramesFor(RAM_PAGES));
  const cpu = createCpu(mem);
  const out: number[] = [];
  const dom = new Domain({ type, cpu, mem, nrPages: RAM_PAGES, console: { write: (b) => out.push(...b) }, cmdline: '' });
  registerHypercalls(dom);
  // The toolstack's channels: store port 1, console port 2, interdomain to dom0 (as the Machine does).
  dom.bindToolstackChannels();
  dom.storePfn = RAM_PAGES - 2;
  dom.consolePfn = RAM_PAGES - 1;
  const call = (nr: number, ...a: number[]): number => {
    const args = [0, 0, 0, 0, 0, 0].map((z, i) => (a[i] ?? z) >>> 0);
    return dom.hypercalls.dispatch(type, { nr, args, cpl: type === 'pv' ? 1 : 0, guest: dom.guest });
  };
  const w8 = (pa: number, v: number) => mem.write8(pa, v);
  const w16 = (pa: number, v: number) => mem.write16(pa, v);
  const w32 = (pa: number, v: number) => mem.write32(pa, v >>> 0);
  const w64 = (pa: number, v: bigint) => mem.write64(pa, v);
  const r32 = (pa: number) => mem.read32(pa) >>> 0;
  const r16s = (pa: number) => (mem.read16(pa) << 16) >> 16;
  const r64 = (pa: number) => mem.read64(pa);
  const str = (pa: number, n: number) => new TextDecoder().decode(mem.readBytes(pa, n));
  /** Wild pointers: unmapped high memory and just past the end of guest memory. */
  const wild = [0xfffff000, mem.size];
  return { dom, mem, cpu, out, call, w8, w16, w32, w64, r32, r16s, r64, str, wild };
}

/** Turn on 32-bit paging with an identity map of the first 4 MiB, page `roVa` read-only (CR0.WP set). */
function pageWithReadOnly(t: ReturnType<typeof setup>, roVa: number): void {
  const pd = 0x1000, pt = 0x2000;
  t.mem.fill(pd, 4096, 0);
  t.w32(pd, pt | 0x7);
  for (let i = 0; i < 1024; i++) t.w32(pt + i * 4, (i << 12) | (i === roVa >>> 12 ? 0x5 : 0x7));
  t.cpu.cr3 = pd;
  t.cpu.cr0 = (t.cpu.cr0 | CR0_PG | CR0_WP) | 0;
  t.cpu.tlbFlushAll();
}

// ---------------------------------------------------------------------------

describe('console_io', () => {
  it('CONSOLEIO_write copies the bytes to the console and returns 0', () => {
    const t = setup();
    t.mem.writeBytes(BUF, new TextEncoder().encode('hello\r\n'));
    expect(t.call(NR.console_io, 0, 7, BUF)).toBe(0);
    expect(String.fromCharCode(...t.out)).toBe('hello\r\n');
  });
  it('writes nothing for count 0 and for unreadable buffers (-EFAULT)', () => {
    const t = setup();
    expect(t.call(NR.console_io, 0, 0, 0xfffff000)).toBe(0);
    for (const p of t.wild) expect(t.call(NR.console_io, 0, 16, p)).toBe(-E.EFAULT);
    // A buffer that runs off the end of memory is rejected whole.
    expect(t.call(NR.console_io, 0, 64, t.mem.size - 16)).toBe(-E.EFAULT);
    expect(t.out.length).toBe(0);
  });
  it('bounds one write to MAX_CONSOLE_WRITE bytes', () => {
    const t = setup();
    expect(t.call(NR.console_io, 0, 0xffffffff, 0)).toBe(0);
    expect(t.out.length).toBe(MAX_CONSOLE_WRITE);
  });
  it('CONSOLEIO_read returns 0 bytes; huge counts -E2BIG; other commands -ENOSYS', () => {
    const t = setup('pvh');
    expect(t.call(NR.console_io, 1, 100, BUF)).toBe(0);
    expect(t.call(NR.console_io, 1, 0x80000000, BUF)).toBe(-E.E2BIG);
    expect(t.call(NR.console_io, 2, 1, BUF)).toBe(-E.ENOSYS);
    t.mem.writeBytes(BUF, Uint8Array.of(0x41));
    expect(t.call(NR.console_io, 0, 1, BUF)).toBe(0);
    expect(t.out).toEqual([0x41]);
  });
});

describe('sched_op', () => {
  it('yield and block return 0; block enables event delivery; both reach onSchedule', () => {
    const t = setup();
    const seen: string[] = [];
    t.dom.onSchedule = (op) => seen.push(op);
    t.dom.upcallMask = 1;
    expect(t.call(NR.sched_op, 0, 0)).toBe(0);
    expect(t.call(NR.sched_op, 1, 0)).toBe(0);
    expect(t.dom.upcallMask).toBe(0);
    expect(seen).toEqual(['yield', 'block']);
  });
  it('poll validates the struct, the port count and the ports', () => {
    const t = setup();
    const poll = (ports: number[], nr = ports.length, list = BUF) => {
      t.w32(ARG, list); t.w32(ARG + 4, nr); t.w64(ARG + 8, 0n);
      ports.forEach((p, i) => t.w32(BUF + i * 4, p));
      return t.call(NR.sched_op, 3, ARG);
    };
    expect(poll([2])).toBe(0);
    expect(poll([1, 2])).toBe(0);
    expect(poll([])).toBe(0);
    expect(poll(new Array<number>(128).fill(2))).toBe(0);
    expect(poll(new Array<number>(129).fill(2))).toBe(-E.EINVAL);
    // Free and reserved ports are valid (never pending): the vCPU goes to sleep (events.test.ts).
    expect(poll([7])).toBe(0);
    expect(poll([0])).toBe(0);
    expect(poll([5000])).toBe(-E.EINVAL);
    expect(poll([2], 1, 0xfffff000)).toBe(-E.EFAULT); // above the PV hypervisor hole start
    expect(poll([2], 1, t.mem.size)).toBe(-E.EFAULT);
    for (const p of t.wild) expect(t.call(NR.sched_op, 3, p)).toBe(-E.EFAULT);
    // A pending port ends the scan before a bad one is reached.
    t.w32(t.dom.sharedInfoPa + SI_PENDING, 1 << 2);
    expect(poll([2, 7])).toBe(0);
    expect(poll([7, 2])).toBe(0);
    expect(poll([5000, 2])).toBe(-E.EINVAL);
  });
  it('poll range-checks PVH port lists only through the copy', () => {
    const t = setup('pvh');
    t.w32(ARG, 0xfffff000); t.w32(ARG + 4, 1);
    expect(t.call(NR.sched_op, 3, ARG)).toBe(-E.EFAULT);
  });
  it('shutdown stops the domain with the reason', () => {
    const t = setup();
    t.w32(ARG, 0);
    expect(t.call(NR.sched_op, 2, ARG)).toBe(0);
    expect(t.dom.stop).toEqual({ kind: 'shutdown', reason: 0 });
    expect(t.cpu.brk).toBe(true);
  });
  it('shutdown refuses bad reasons and pointers without stopping', () => {
    const t = setup();
    t.w32(ARG, 6);
    expect(t.call(NR.sched_op, 2, ARG)).toBe(-E.EINVAL);
    for (const p of t.wild) expect(t.call(NR.sched_op, 2, p)).toBe(-E.EFAULT);
    expect(t.dom.stop).toBeNull();
  });
  it('shutdown_code is kept once and wins over the later shutdown reason', () => {
    const t = setup();
    t.w32(ARG, 3);
    expect(t.call(NR.sched_op, 5, ARG)).toBe(0);
    t.w32(ARG, 1);
    expect(t.call(NR.sched_op, 5, ARG)).toBe(0);
    expect(t.dom.shutdownCode).toBe(3);
    t.w32(ARG, 9);
    expect(t.call(NR.sched_op, 5, ARG)).toBe(-E.EINVAL);
    expect(t.dom.stop).toBeNull();
    t.w32(ARG, 0);
    expect(t.call(NR.sched_op, 2, ARG)).toBe(0);
    expect(t.dom.stop).toEqual({ kind: 'shutdown', reason: 3 });
  });
  it('remote_shutdown: self and dom0 -EPERM, others -ESRCH', () => {
    const t = setup();
    const rs = (domid: number) => { t.w16(ARG, domid); t.w32(ARG + 4, 0); return t.call(NR.sched_op, 4, ARG); };
    expect(rs(t.dom.domid)).toBe(-E.EPERM);
    expect(rs(0)).toBe(-E.EPERM);
    expect(rs(5)).toBe(-E.ESRCH);
    expect(rs(DOMID.SELF)).toBe(-E.ESRCH);
    expect(t.call(NR.sched_op, 4, 0xfffff000)).toBe(-E.EFAULT);
    expect(t.dom.stop).toBeNull();
  });
  it('watchdog allocates two slots, re-arms, frees and rejects bad ids', () => {
    const t = setup();
    const wd = (id: number, timeout: number) => { t.w32(ARG, id); t.w32(ARG + 4, timeout); return t.call(NR.sched_op, 6, ARG); };
    expect(wd(0, 10)).toBe(1);
    expect(wd(0, 10)).toBe(2);
    expect(wd(0, 10)).toBe(-E.ENOSPC);
    expect(t.dom.watchdogDeadlineNs[0]).toBe(10_000_000_000n);
    expect(wd(2, 20)).toBe(0);
    expect(t.dom.watchdogDeadlineNs[1]).toBe(20_000_000_000n);
    expect(wd(1, 0)).toBe(0);
    expect(t.dom.watchdogDeadlineNs[0]).toBeNull();
    expect(wd(1, 5)).toBe(-E.EINVAL);
    expect(wd(3, 5)).toBe(-E.EINVAL);
    expect(t.call(NR.sched_op, 6, 0xfffff000)).toBe(-E.EFAULT);
  });
  it('pin_override -EPERM, unknown commands -ENOSYS', () => {
    const t = setup();
    expect(t.call(NR.sched_op, 7, ARG)).toBe(-E.EPERM);
    expect(t.call(NR.sched_op, 8, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.sched_op, 0xffffffff, ARG)).toBe(-E.ENOSYS);
  });
});

describe('sched_op_compat', () => {
  it('takes the shutdown reason by value (PV)', () => {
    const t = setup();
    expect(t.call(NR.sched_op_compat, 0, 0)).toBe(0);
    expect(t.call(NR.sched_op_compat, 1, 0)).toBe(0);
    expect(t.call(NR.sched_op_compat, 3, ARG)).toBe(-E.ENOSYS); // poll did not exist
    expect(t.call(NR.sched_op_compat, 2, 17)).toBe(-E.EINVAL);
    expect(t.dom.stop).toBeNull();
    expect(t.call(NR.sched_op_compat, 2, 3)).toBe(0);
    expect(t.dom.stop).toEqual({ kind: 'shutdown', reason: 3 });
  });
  it('is PV-only', () => {
    const t = setup('pvh');
    expect(t.call(NR.sched_op_compat, 2, 0)).toBe(-E.ENOSYS);
    expect(t.dom.stop).toBeNull();
  });
});

describe('xen_version', () => {
  it('reports 4.19 and the version strings', () => {
    const t = setup();
    expect(t.call(NR.xen_version, 0, 0)).toBe(0x40013);
    t.mem.fill(BUF, 2048, 0xaa);
    expect(t.call(NR.xen_version, 1, BUF)).toBe(0);
    expect(Array.from(t.mem.readBytes(BUF, 17))).toEqual([...new TextEncoder().encode('-xenkit'), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa]);
    expect(t.call(NR.xen_version, 2, BUF)).toBe(0);
    expect(t.str(BUF, 20)).toBe('xenkit (TypeScript)\0');
    expect(t.str(BUF + 64, 7)).toBe('xenkit\0');
    expect(t.mem.read8(BUF + 143)).toBe(0);
    expect(t.mem.read8(BUF + 144)).toBe(0xaa);
    expect(t.call(NR.xen_version, 3, BUF)).toBe(0);
    expect(t.str(BUF, 48)).toBe('xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p \0');
    expect(t.mem.read8(BUF + 1023)).toBe(0);
    expect(t.call(NR.xen_version, 4, BUF2)).toBe(0);
    expect(t.str(BUF2, 7)).toBe('xenkit\0');
  });
  it('platform_parameters: the hypervisor hole for PV, 0 for PVH', () => {
    const pv = setup();
    expect(pv.call(NR.xen_version, 5, ARG)).toBe(0);
    expect(pv.r32(ARG)).toBe(0xf5800000);
    const pvh = setup('pvh');
    pvh.w32(ARG, 0x1234);
    expect(pvh.call(NR.xen_version, 5, ARG)).toBe(0);
    expect(pvh.r32(ARG)).toBe(0);
  });
  it('get_features: PV and PVH bit sets, only submap 0', () => {
    const pv = setup();
    pv.w32(ARG, 0);
    expect(pv.call(NR.xen_version, 6, ARG)).toBe(0);
    // preserve_ad, highmem_assist, map_avail_bits, direct_mapped
    expect(pv.r32(ARG + 4)).toBe((1 << 5) | (1 << 6) | (1 << 7) | (1 << 17));
    pv.dom.vmAssist = 1 << 3; // pae_extended_cr3, as the PV builder sets
    expect(pv.call(NR.xen_version, 6, ARG)).toBe(0);
    expect(pv.r32(ARG + 4)).toBe((1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 17));
    pv.w32(ARG, 1);
    expect(pv.call(NR.xen_version, 6, ARG)).toBe(-E.EINVAL);
    for (const p of pv.wild) expect(pv.call(NR.xen_version, 6, p)).toBe(-E.EFAULT);
    const pvh = setup('pvh');
    pvh.w32(ARG, 0);
    expect(pvh.call(NR.xen_version, 6, ARG)).toBe(0);
    // writable_page_tables, auto_translated, callback_vector, safe_pvclock, not_direct_mapped
    expect(pvh.r32(ARG + 4)).toBe((1 << 0) | (1 << 2) | (1 << 8) | (1 << 9) | (1 << 16));
  });
  it('pagesize, guest_handle, commandline, build_id', () => {
    const t = setup();
    expect(t.call(NR.xen_version, 7, 0)).toBe(4096);
    expect(t.call(NR.xen_version, 7, ARG)).toBe(-E.EINVAL);
    t.mem.fill(BUF, 32, 0xaa);
    expect(t.call(NR.xen_version, 8, BUF)).toBe(0);
    expect(Array.from(t.mem.readBytes(BUF, 17))).toEqual([...new Array<number>(16).fill(0), 0xaa]);
    t.mem.fill(BUF, 32, 0xaa);
    expect(t.call(NR.xen_version, 9, BUF)).toBe(0);
    expect(t.str(BUF, 9)).toBe('<denied>\0');
    expect(t.mem.read8(BUF + 9)).toBe(0xaa);
    expect(t.call(NR.xen_version, 10, BUF)).toBe(-E.EPERM);
    expect(t.call(NR.xen_version, 14, BUF)).toBe(-E.EPERM);
    expect(t.call(NR.xen_version, 15, BUF)).toBe(-E.ENOSYS);
    expect(t.call(NR.xen_version, 0x7fffffff, BUF)).toBe(-E.ENOSYS);
    for (const c of [1, 2, 3, 4, 5, 8, 9]) for (const p of t.wild) expect(t.call(NR.xen_version, c, p)).toBe(-E.EFAULT);
  });
  it('varbuf sub-ops: length query, -ENOBUFS, copy', () => {
    const t = setup('pvh');
    expect(t.call(NR.xen_version, 11, 0)).toBe(7);
    t.w32(BUF, 3);
    expect(t.call(NR.xen_version, 11, BUF)).toBe(-E.ENOBUFS);
    t.w32(BUF, 64);
    expect(t.call(NR.xen_version, 11, BUF)).toBe(7);
    expect(t.str(BUF + 4, 7)).toBe('-xenkit');
    expect(t.call(NR.xen_version, 12, 0)).toBe(47);
    expect(t.call(NR.xen_version, 13, BUF)).toBe(6);
    expect(t.call(NR.xen_version, 11, 0xfffff000)).toBe(-E.EFAULT);
  });
});

describe('vm_assist', () => {
  it('PV: enables and disables the PV32 assists only', () => {
    const t = setup();
    t.dom.vmAssist = 1 << 3;
    expect(t.call(NR.vm_assist, 0, 2)).toBe(0);
    expect(t.dom.vmAssist).toBe((1 << 3) | (1 << 2));
    expect(t.call(NR.vm_assist, 1, 3)).toBe(0);
    expect(t.dom.vmAssist).toBe(1 << 2);
    for (const type of [0, 1, 5]) expect(t.call(NR.vm_assist, 0, type)).toBe(0);
    expect(t.call(NR.vm_assist, 0, 4)).toBe(-E.EINVAL); // architectural_iopl: no virtual IOPL
    expect(t.dom.vmAssist).toBe(0b100111);
    expect(t.call(NR.vm_assist, 0, 6)).toBe(-E.EINVAL);
    expect(t.call(NR.vm_assist, 0, 32)).toBe(-E.EINVAL); // m2p_strict is 64-bit PV only
    expect(t.call(NR.vm_assist, 0, 0xffffffff)).toBe(-E.EINVAL);
    expect(t.call(NR.vm_assist, 2, 2)).toBe(-E.ENOSYS);
    expect(t.call(NR.vm_assist, 2, 9)).toBe(-E.EINVAL); // the type is checked first
  });
  it('PVH: only runstate_update_flag', () => {
    const t = setup('pvh');
    expect(t.call(NR.vm_assist, 0, 5)).toBe(0);
    expect(t.dom.vmAssist).toBe(1 << 5);
    expect(t.call(NR.vm_assist, 0, 3)).toBe(-E.EINVAL);
    expect(t.call(NR.vm_assist, 0, 2)).toBe(-E.EINVAL);
  });
});

describe('memory_op', () => {
  it('reservation queries for the caller; others refused', () => {
    const t = setup();
    const q = (op: number, domid: number) => { t.w16(ARG, domid); return t.call(NR.memory_op, op, ARG); };
    expect(q(3, DOMID.SELF)).toBe(RAM_PAGES);
    expect(q(3, t.dom.domid)).toBe(RAM_PAGES);
    expect(q(4, DOMID.SELF)).toBe(RAM_PAGES);
    expect(q(14, DOMID.SELF)).toBe(RAM_PAGES - 1);
    expect(q(3, 0)).toBe(-E.EPERM);
    expect(q(3, 7)).toBe(-E.ESRCH);
    for (const p of t.wild) expect(t.call(NR.memory_op, 3, p)).toBe(-E.EFAULT);
    expect(t.call(NR.memory_op, 3 | (1 << 6), ARG)).toBe(-E.EINVAL);
    expect(t.call(NR.memory_op, 2, 0)).toBe(t.mem.ramPages + t.mem.extraPages);
    expect(t.call(NR.memory_op, 2 | (5 << 6), 0)).toBe(-E.EINVAL);
  });
  it('increase/decrease_reservation and populate_physmap do no extents', () => {
    const t = setup('pvh');
    t.w32(ARG, BUF); t.w32(ARG + 4, 4); t.w32(ARG + 8, 0); t.w32(ARG + 12, 0); t.w16(ARG + 16, DOMID.SELF);
    expect(t.call(NR.memory_op, 0, ARG)).toBe(0);
    expect(t.call(NR.memory_op, 1, ARG)).toBe(0);
    expect(t.call(NR.memory_op, 6, ARG)).toBe(0);
    expect(t.call(NR.memory_op, 1 | (3 << 6), ARG)).toBe(3);
    expect(t.call(NR.memory_op, 6, 0xfffff000)).toBe(0);
  });
  it('memory_map: one RAM entry for PV', () => {
    const t = setup();
    t.w32(ARG, 8); t.w32(ARG + 4, BUF);
    expect(t.call(NR.memory_op, 9, ARG)).toBe(0);
    expect(t.r32(ARG)).toBe(1);
    expect(t.r64(BUF)).toBe(0n);
    expect(t.r64(BUF + 8)).toBe(BigInt(RAM_PAGES * 4096));
    expect(t.r32(BUF + 16)).toBe(1);
  });
  it('memory_map: the PVH builder map, truncated to the capacity', () => {
    const t = setup('pvh');
    t.mem.fill(BUF, 64, 0xaa);
    t.w32(ARG, 8); t.w32(ARG + 4, BUF);
    expect(t.call(NR.memory_op, 9, ARG)).toBe(0);
    expect(t.r32(ARG)).toBe(2);
    const top = (RAM_PAGES - 2) * 4096;
    expect([t.r64(BUF), t.r64(BUF + 8), t.r32(BUF + 16)]).toEqual([0n, BigInt(top), 1]);
    expect([t.r64(BUF + 20), t.r64(BUF + 28), t.r32(BUF + 36)]).toEqual([BigInt(top), 8192n, 2]);
    expect(t.mem.read8(BUF + 40)).toBe(0xaa);
    t.mem.fill(BUF, 64, 0xaa);
    t.w32(ARG, 1);
    expect(t.call(NR.memory_op, 9, ARG)).toBe(0);
    expect(t.r32(ARG)).toBe(1);
    expect(t.mem.read8(BUF + 20)).toBe(0xaa);
    t.w32(ARG, 0);
    expect(t.call(NR.memory_op, 9, ARG)).toBe(0);
    expect(t.r32(ARG)).toBe(0);
    t.w32(ARG, 2); t.w32(ARG + 4, 0xfffff000);
    expect(t.call(NR.memory_op, 9, ARG)).toBe(-E.EFAULT);
    for (const p of t.wild) expect(t.call(NR.memory_op, 9, p)).toBe(-E.EFAULT);
    expect(t.call(NR.memory_op, 9 | (1 << 6), ARG)).toBe(-E.ENOSYS);
  });
  it('add_to_physmap is refused for PV (-EACCES)', () => {
    const t = setup();
    t.w16(ARG, DOMID.SELF); t.w32(ARG + 4, 0); t.w32(ARG + 8, 0); t.w32(ARG + 12, 0x100);
    expect(t.call(NR.memory_op, 7, ARG)).toBe(-E.EACCES);
    expect(t.dom.sharedInfoPa).toBe(t.dom.sharedInfoMfn * 4096);
    expect(t.call(NR.memory_op, 15, ARG)).toBe(-E.EACCES); // remove_from_physmap
  });
  it('add_to_physmap places shared_info and grant frames for PVH', () => {
    const t = setup('pvh');
    const xatp = (space: number, idx: number, gpfn: number, domid: number = DOMID.SELF) => {
      t.w16(ARG, domid); t.w16(ARG + 2, 0); t.w32(ARG + 4, space); t.w32(ARG + 8, idx); t.w32(ARG + 12, gpfn);
      return t.call(NR.memory_op, 7, ARG);
    };
    t.w32(t.dom.sharedInfoPa + 2304, 0xc0ffee);
    expect(xatp(0, 0, 0x100)).toBe(0);
    expect(t.dom.sharedInfoPa).toBe(0x100000);
    expect(t.r32(0x100000 + 2304)).toBe(0xc0ffee);
    expect(xatp(0, 1, 0x101)).toBe(-E.EINVAL);
    expect(xatp(0, 0, RAM_PAGES)).toBe(-E.EINVAL);
    expect(xatp(0, 0, 0xffffffff)).toBe(-E.EINVAL);
    expect(t.dom.sharedInfoPa).toBe(0x100000);
    t.w32(t.dom.grantFrames[2]! * 4096 + 8, 0x12345678);
    expect(xatp(1, 2, 0x200)).toBe(0);
    expect(t.dom.grantFrames[2]).toBe(0x200);
    expect(t.r32(0x200000 + 8)).toBe(0x12345678);
    expect(xatp(1, GRANT_FRAMES, 0x201)).toBe(-E.EINVAL);
    expect(xatp(1, 0x80000000, 0x201)).toBe(-E.EINVAL); // v2 status frame
    expect(xatp(2, 5, 0x201)).toBe(-E.ENOSYS);
    expect(xatp(4, 0, 0x201)).toBe(-E.ENOSYS);
    expect(xatp(5, 0, 0x201)).toBe(-E.EACCES);
    expect(xatp(9, 0, 0x201)).toBe(-E.EINVAL);
    expect(xatp(0, 0, 0x300, 0)).toBe(-E.EPERM);
    expect(xatp(0, 0, 0x300, 9)).toBe(-E.ESRCH);
    expect(t.call(NR.memory_op, 7 | (0x10000 << 6), ARG)).toBe(-E.EDOM);
    for (const p of t.wild) expect(t.call(NR.memory_op, 7, p)).toBe(-E.EFAULT);
    expect(t.dom.sharedInfoPa).toBe(0x100000);
  });
  it('machphys_mapping and machphys_mfn_list describe the M2P (PV only)', () => {
    const t = setup();
    expect(t.call(NR.memory_op, 12, ARG)).toBe(0);
    expect([t.r32(ARG), t.r32(ARG + 4), t.r32(ARG + 8)])
      .toEqual([0xf5800000, 0xf5800000 + t.dom.m2pFrames * 4096, t.dom.m2pFrames * 1024 - 1]);
    for (const p of t.wild) expect(t.call(NR.memory_op, 12, p)).toBe(-E.EFAULT);
    t.w32(ARG, 4); t.w32(ARG + 4, BUF); t.w32(ARG + 8, 0xdead);
    expect(t.call(NR.memory_op, 5, ARG)).toBe(0);
    expect(t.r32(ARG + 8)).toBe(1);
    expect(t.r32(BUF)).toBe(t.dom.m2pMfn);
    t.w32(ARG, 0);
    expect(t.call(NR.memory_op, 5, ARG)).toBe(0);
    expect(t.r32(ARG + 8)).toBe(0);
    t.w32(ARG, 4); t.w32(ARG + 4, 0xfffff000);
    expect(t.call(NR.memory_op, 5, ARG)).toBe(-E.EFAULT);
    const pvh = setup('pvh');
    expect(pvh.call(NR.memory_op, 12, ARG)).toBe(-E.ENOSYS);
    expect(pvh.call(NR.memory_op, 5, ARG)).toBe(-E.ENOSYS);
  });
  it('privileged, unsupported and unknown ops', () => {
    const t = setup();
    expect(t.call(NR.memory_op, 10, ARG)).toBe(-E.EPERM);
    expect(t.call(NR.memory_op, 11, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.memory_op, 8, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.memory_op, 63, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.memory_op, 0xffffffff, ARG)).toBe(-E.ENOSYS);
  });
});

describe('hvm_op', () => {
  const param = (t: ReturnType<typeof setup>, op: number, index: number, value = 0n, domid: number = DOMID.SELF) => {
    t.w16(ARG, domid); t.w16(ARG + 2, 0); t.w32(ARG + 4, index); t.w64(ARG + 8, value);
    return t.call(NR.hvm_op, op, ARG);
  };
  it('get_param returns the console and xenstore parameters', () => {
    const t = setup('pvh');
    const get = (i: number) => { expect(param(t, 1, i, 0xdeadn)).toBe(0); return t.r64(ARG + 8); };
    expect(get(1)).toBe(BigInt(RAM_PAGES - 2));
    expect(get(2)).toBe(1n);
    expect(get(17)).toBe(BigInt(RAM_PAGES - 1));
    expect(get(18)).toBe(2n);
    expect(get(0)).toBe(0n);
  });
  it('set_param stores guest-settable parameters', () => {
    const t = setup('pvh');
    const via = (2n << 56n) | 0xf3n;
    expect(param(t, 0, 0, via)).toBe(0);
    expect(t.dom.hvmParams.get(0)).toBe(via);
    expect(param(t, 1, 0)).toBe(0);
    expect(t.r64(ARG + 8)).toBe(via);
    expect(param(t, 0, 2, 7n)).toBe(0);
    expect(param(t, 1, 2)).toBe(0);
    expect(t.r64(ARG + 8)).toBe(7n);
    expect(param(t, 0, 36, 5n)).toBe(-E.EINVAL);
    expect(param(t, 0, 36, 4n)).toBe(0);
  });
  it('applies Xen permissions and checks', () => {
    const t = setup('pvh');
    expect(param(t, 1, 39)).toBe(-E.EINVAL);
    expect(param(t, 0, 0xffffffff)).toBe(-E.EINVAL);
    expect(param(t, 1, 5)).toBe(-E.EPERM);
    expect(param(t, 1, 4)).toBe(-E.EINVAL);
    expect(param(t, 0, 1, 5n)).toBe(-E.EPERM);
    expect(param(t, 0, 35, 1n)).toBe(-E.EEXIST);
    expect(param(t, 1, 1, 0n, 0)).toBe(-E.EPERM);
    expect(param(t, 1, 1, 0n, 3)).toBe(-E.ESRCH);
    expect(param(t, 1, 1, 0n, t.dom.domid)).toBe(0);
    for (const p of t.wild) expect(t.call(NR.hvm_op, 1, p)).toBe(-E.EFAULT);
    expect(t.dom.hvmParams.size).toBe(0);
  });
  it('get_param cannot write into a read-only page', () => {
    const t = setup('pvh');
    pageWithReadOnly(t, 0x30000);
    t.w16(0x30000, DOMID.SELF); t.w32(0x30004, 1);
    expect(t.call(NR.hvm_op, 1, 0x30000)).toBe(-E.EFAULT);
    expect(t.r64(0x30008)).toBe(0n);
  });
  it('parameters belong to HVM domains: PV gets -EINVAL', () => {
    const t = setup();
    expect(param(t, 1, 1)).toBe(-E.EINVAL);
    expect(param(t, 0, 0, 1n)).toBe(-E.EINVAL);
    expect(param(t, 1, 40)).toBe(-E.EINVAL);
  });
  it('set_evtchn_upcall_vector', () => {
    const t = setup('pvh');
    const up = (vcpu: number, vector: number) => { t.w32(ARG, vcpu); t.w8(ARG + 4, vector); return t.call(NR.hvm_op, 23, ARG); };
    expect(up(0, 0xf3)).toBe(0);
    expect(t.dom.evtchnUpcallVector).toBe(0xf3);
    expect(up(0, 0x0f)).toBe(-E.EINVAL);
    expect(up(1, 0xf0)).toBe(-E.ENOENT);
    expect(t.dom.evtchnUpcallVector).toBe(0xf3);
    expect(t.call(NR.hvm_op, 23, 0xfffff000)).toBe(-E.EFAULT);
    const pv = setup();
    expect(pv.call(NR.hvm_op, 23, 0xfffff000)).toBe(-E.EINVAL);
  });
  it('flush_tlbs, pagetable_dying, get_time, unknown ops', () => {
    const t = setup('pvh');
    expect(t.call(NR.hvm_op, 5, 0)).toBe(0);
    expect(t.call(NR.hvm_op, 5, ARG)).toBe(-E.EINVAL);
    const ptd = (domid: number) => { t.w16(ARG, domid); t.w64(ARG + 8, 0x1000n); return t.call(NR.hvm_op, 9, ARG); };
    expect(ptd(DOMID.SELF)).toBe(-E.EINVAL);
    expect(ptd(0)).toBe(-E.EOPNOTSUPP);
    expect(ptd(9)).toBe(-E.ESRCH);
    expect(t.call(NR.hvm_op, 9, 0xfffff000)).toBe(-E.EFAULT);
    t.cpu.icount = 123456;
    expect(t.call(NR.hvm_op, 10, ARG)).toBe(0);
    expect(t.r64(ARG)).toBe(123456n);
    for (const p of t.wild) expect(t.call(NR.hvm_op, 10, p)).toBe(-E.EFAULT);
    expect(t.call(NR.hvm_op, 2, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.hvm_op, 0xffffffff, ARG)).toBe(-E.ENOSYS);
    const pv = setup();
    expect(pv.call(NR.hvm_op, 5, 0)).toBe(-E.EINVAL);
    expect(pv.call(NR.hvm_op, 10, ARG)).toBe(0);
  });
});

describe('vcpu_op', () => {
  it('only vCPU 0 exists', () => {
    const t = setup();
    expect(t.call(NR.vcpu_op, 3, 0)).toBe(1);
    expect(t.call(NR.vcpu_op, 3, 1)).toBe(-E.ENOENT);
    expect(t.call(NR.vcpu_op, 1, 0xffffffff)).toBe(-E.ENOENT);
  });
  it('initialise, up, is_up, down', () => {
    const t = setup();
    expect(t.call(NR.vcpu_op, 0, 0, BUF)).toBe(-E.EEXIST);
    expect(t.call(NR.vcpu_op, 0, 0, 0xfffff000)).toBe(-E.EFAULT);
    expect(t.call(NR.vcpu_op, 0, 0, t.mem.size - 2000)).toBe(-E.EFAULT); // 2800-byte context runs off memory
    const pvh = setup('pvh');
    expect(pvh.call(NR.vcpu_op, 0, 0, pvh.mem.size - 2000)).toBe(-E.EEXIST); // 128-byte context fits
    expect(t.call(NR.vcpu_op, 1, 0)).toBe(0);
    expect(t.dom.stop).toBeNull();
    expect(t.call(NR.vcpu_op, 2, 0)).toBe(0);
    expect(t.dom.stop).toEqual({ kind: 'shutdown', reason: 0 });
  });
  it('get_runstate_info fills the 44-byte struct', () => {
    const t = setup();
    t.mem.fill(BUF, 64, 0xaa);
    t.cpu.icount = 5000;
    expect(t.call(NR.vcpu_op, 4, 0, BUF)).toBe(0);
    expect(t.r32(BUF)).toBe(0);
    expect(t.r64(BUF + 4)).toBe(0n);
    expect([t.r64(BUF + 12), t.r64(BUF + 20), t.r64(BUF + 28), t.r64(BUF + 36)]).toEqual([5000n, 0n, 0n, 0n]);
    expect(t.mem.read8(BUF + 44)).toBe(0xaa);
    for (const p of t.wild) expect(t.call(NR.vcpu_op, 4, 0, p)).toBe(-E.EFAULT);
  });
  it('register_runstate_memory_area', () => {
    const t = setup();
    t.cpu.icount = 77;
    t.w32(ARG, BUF);
    expect(t.call(NR.vcpu_op, 5, 0, ARG)).toBe(0);
    expect(t.dom.runstateAreaVa).toBe(BUF);
    expect(t.r64(BUF + 12)).toBe(77n);
    t.w32(ARG, 0xf6000000);
    expect(t.call(NR.vcpu_op, 5, 0, ARG)).toBe(-E.EFAULT); // inside the PV hypervisor hole
    expect(t.call(NR.vcpu_op, 5, 0, 0xfffff000)).toBe(-E.EFAULT);
    expect(t.dom.runstateAreaVa).toBe(BUF);
  });
  it('periodic and single-shot timers', () => {
    const t = setup();
    expect(t.dom.periodicTimerNs).toBe(10_000_000n);
    expect(setup('pvh').dom.periodicTimerNs).toBe(0n);
    t.w64(ARG, 999_999n);
    expect(t.call(NR.vcpu_op, 6, 0, ARG)).toBe(-E.EINVAL);
    t.w64(ARG, 1n << 62n);
    expect(t.call(NR.vcpu_op, 6, 0, ARG)).toBe(-E.EINVAL);
    t.w64(ARG, 2_000_000n);
    expect(t.call(NR.vcpu_op, 6, 0, ARG)).toBe(0);
    expect(t.dom.periodicTimerNs).toBe(2_000_000n);
    expect(t.call(NR.vcpu_op, 6, 0, 0xfffff000)).toBe(-E.EFAULT);
    expect(t.call(NR.vcpu_op, 7, 0)).toBe(0);
    expect(t.dom.periodicTimerNs).toBe(0n);
    t.w64(ARG, 123_456_789n); t.w32(ARG + 8, 1);
    expect(t.call(NR.vcpu_op, 8, 0, ARG)).toBe(0);
    expect(t.dom.singleshotDeadlineNs).toBe(123_456_789n);
    expect(t.call(NR.vcpu_op, 8, 0, 0xfffff000)).toBe(-E.EFAULT);
    expect(t.call(NR.vcpu_op, 9, 0)).toBe(0);
    expect(t.dom.singleshotDeadlineNs).toBeNull();
  });
  it('register_vcpu_info validates, then keeps vcpu_info in shared_info', () => {
    const t = setup();
    const reg = (mfn: bigint, offset: number) => { t.w64(ARG, mfn); t.w32(ARG + 8, offset); t.w32(ARG + 12, 0); return t.call(NR.vcpu_op, 10, 0, ARG); };
    expect(reg(0x100n, 4096 - 32)).toBe(-E.ENXIO);
    expect(reg(0x100n, 2)).toBe(-E.ENXIO);
    expect(reg(BigInt(RAM_PAGES), 0)).toBe(-E.EINVAL);
    expect(reg(1n << 60n, 0)).toBe(-E.EINVAL); // the guest address would wrap
    expect(reg(0xfffffffffffffn, 0xfff)).toBe(-E.EINVAL); // ~0
    expect(reg(0x100n, 4096 - 64)).toBe(-E.ENOSYS);
    expect(t.call(NR.vcpu_op, 10, 0, 0xfffff000)).toBe(-E.EFAULT);
  });
  it('send_nmi, get_physid and unknown commands', () => {
    const t = setup();
    expect(t.call(NR.vcpu_op, 11, 0, ARG)).toBe(-E.EINVAL);
    expect(t.dom.nmiPending).toBe(false);
    expect(t.call(NR.vcpu_op, 11, 0, 0)).toBe(0);
    expect(t.dom.nmiPending).toBe(true);
    expect(t.call(NR.vcpu_op, 12, 0, ARG)).toBe(-E.EINVAL);
    expect(t.call(NR.vcpu_op, 13, 0, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.vcpu_op, 99, 0, ARG)).toBe(-E.ENOSYS);
  });
});

describe('multicall', () => {
  const entry = (t: ReturnType<typeof setup>, at: number, op: number, ...args: number[]) => {
    t.w32(at, op); t.w32(at + 4, 0xeeeeeeee);
    for (let i = 0; i < 6; i++) t.w32(at + 8 + i * 4, args[i] ?? 0);
  };
  it('runs each entry and stores its result', () => {
    const t = setup();
    t.mem.writeBytes(BUF2, new TextEncoder().encode('mc'));
    entry(t, BUF, NR.xen_version, 0, 0);
    entry(t, BUF + 32, NR.console_io, 0, 2, BUF2);
    entry(t, BUF + 64, NR.sched_op, 0, 0);
    entry(t, BUF + 96, 99);
    entry(t, BUF + 128, NR.xen_version, 7, ARG);
    expect(t.call(NR.multicall, BUF, 5)).toBe(0);
    expect([t.r32(BUF + 4), t.r32(BUF + 36), t.r32(BUF + 68), t.r32(BUF + 100) | 0, t.r32(BUF + 132) | 0])
      .toEqual([0x40013, 0, 0, -E.ENOSYS, -E.EINVAL]);
    expect(String.fromCharCode(...t.out)).toBe('mc');
  });
  it('nested multicall fails its entry; iret ends the batch', () => {
    const t = setup();
    entry(t, BUF, NR.multicall, BUF, 1);
    entry(t, BUF + 32, NR.xen_version, 0, 0);
    entry(t, BUF + 64, NR.iret);
    entry(t, BUF + 96, NR.xen_version, 0, 0);
    // The iret runs (tests/xen/xtf-regressions.test.ts has a real frame); here
    // the frame at ESP is zeros (CS 0: a return to ring 0), so it crashes the
    // domain, which ends the batch just the same and leaves the result alone.
    expect(t.call(NR.multicall, BUF, 4)).toBe(NO_RESULT);
    expect(t.r32(BUF + 4) | 0).toBe(-E.EINVAL);
    expect(t.r32(BUF + 36)).toBe(0x40013);
    expect(t.r32(BUF + 68)).toBe(0xeeeeeeee);
    expect(t.r32(BUF + 100)).toBe(0xeeeeeeee);
    expect(t.dom.stop?.kind).toBe('crash');
  });
  it('uses the caller type: PV-only calls fail inside a PVH multicall', () => {
    const t = setup('pvh');
    entry(t, BUF, NR.set_trap_table, 0);
    entry(t, BUF + 32, NR.sched_op_compat, 2, 0);
    expect(t.call(NR.multicall, BUF, 2)).toBe(0);
    expect(t.r32(BUF + 4) | 0).toBe(-E.ENOSYS);
    expect(t.r32(BUF + 36) | 0).toBe(-E.ENOSYS);
    expect(t.dom.stop).toBeNull();
  });
  it('bad lists, counts and a shutdown mid-batch', () => {
    const t = setup();
    expect(t.call(NR.multicall, BUF, 0)).toBe(0);
    expect(t.call(NR.multicall, 0xf5800000, 1)).toBe(-E.EFAULT);
    expect(t.call(NR.multicall, BUF, 0x10000000)).toBe(-E.EFAULT);
    expect(t.call(NR.multicall, BUF, MAX_MULTICALL + 1)).toBe(-E.E2BIG);
    expect(t.call(NR.multicall, t.mem.size, 1)).toBe(-E.EFAULT);
    // The second entry runs off the end of memory: the first is done, then -EFAULT.
    const at = t.mem.size - 48;
    entry(t, at, NR.xen_version, 0, 0);
    expect(t.call(NR.multicall, at, 2)).toBe(-E.EFAULT);
    expect(t.r32(at + 4)).toBe(0x40013);
    t.w32(ARG, 3);
    entry(t, BUF, NR.sched_op, 2, ARG);
    entry(t, BUF + 32, NR.xen_version, 0, 0);
    expect(t.call(NR.multicall, BUF, 2)).toBe(0);
    expect(t.dom.stop).toEqual({ kind: 'shutdown', reason: 3 });
    expect(t.r32(BUF + 36)).toBe(0xeeeeeeee);
    const pvh = setup('pvh');
    expect(pvh.call(NR.multicall, 0xfffff000, 1)).toBe(-E.EFAULT);
  });
  it('a result that cannot be written back ends the batch with -EFAULT', () => {
    const t = setup();
    pageWithReadOnly(t, 0x30000);
    entry(t, 0x30000, NR.xen_version, 0, 0);
    expect(t.call(NR.multicall, 0x30000, 1)).toBe(-E.EFAULT);
    expect(t.r32(0x30004)).toBe(0xeeeeeeee);
  });
});

describe('event_channel_op', () => {
  it('send notifies bound ports only', () => {
    const t = setup();
    const sent: number[] = [];
    t.dom.onEvtchnSend = (p) => sent.push(p);
    const send = (port: number) => { t.w32(ARG, port); return t.call(NR.event_channel_op, 4, ARG); };
    expect(send(2)).toBe(0);
    expect(send(1)).toBe(0);
    expect(send(3)).toBe(-E.EINVAL);
    expect(send(0)).toBe(-E.EINVAL);
    expect(send(1024)).toBe(-E.EINVAL);
    expect(sent).toEqual([2, 1]);
    for (const p of t.wild) expect(t.call(NR.event_channel_op, 4, p)).toBe(-E.EFAULT);
  });
  it('status reports the store and console ports as interdomain to dom0', () => {
    const t = setup('pvh');
    const status = (port: number, dom: number = DOMID.SELF) => {
      t.mem.fill(ARG, 24, 0xaa);
      t.w16(ARG, dom); t.w32(ARG + 4, port);
      return t.call(NR.event_channel_op, 5, ARG);
    };
    expect(status(1)).toBe(0);
    expect([t.r32(ARG + 8), t.r32(ARG + 12), t.mem.read16(ARG + 16), t.r32(ARG + 20)]).toEqual([2, 0, 0, 1]);
    expect(status(2, t.dom.domid)).toBe(0);
    expect([t.r32(ARG + 8), t.r32(ARG + 20)]).toEqual([2, 2]);
    expect(status(0)).toBe(0);
    expect(t.r32(ARG + 8)).toBe(0);
    expect(status(3)).toBe(0);
    expect(t.r32(ARG + 8)).toBe(0);
    expect(status(1024)).toBe(-E.EINVAL);
    expect(status(1, 0)).toBe(-E.EPERM);
    expect(status(1, 5)).toBe(-E.ESRCH);
    for (const p of t.wild) expect(t.call(NR.event_channel_op, 5, p)).toBe(-E.EFAULT);
  });
  it('status cannot be written into a read-only page', () => {
    const t = setup();
    pageWithReadOnly(t, 0x30000);
    t.w16(0x30000, DOMID.SELF); t.w32(0x30004, 1);
    expect(t.call(NR.event_channel_op, 5, 0x30000)).toBe(-E.EFAULT);
    expect(t.r32(0x30008)).toBe(0);
  });
  it('close frees a bound port', () => {
    const t = setup();
    const op = (cmd: number, port: number) => { t.w32(ARG, port); return t.call(NR.event_channel_op, cmd, ARG); };
    expect(op(3, 2)).toBe(0);
    expect(op(3, 2)).toBe(-E.EINVAL);
    expect(op(4, 2)).toBe(-E.EINVAL);
    expect(op(3, 0)).toBe(-E.EINVAL);
    expect(op(3, 9)).toBe(-E.EINVAL);
    expect(op(3, 4096)).toBe(-E.EINVAL);
    t.w16(BUF, DOMID.SELF); t.w32(BUF + 4, 2);
    expect(t.call(NR.event_channel_op, 5, BUF)).toBe(0);
    expect(t.r32(BUF + 8)).toBe(0);
    expect(op(4, 1)).toBe(0);
  });
  it('unmask follows the 2-level rules', () => {
    const t = setup();
    const si = t.dom.sharedInfoPa;
    t.w32(si + SI_MASK, (1 << 2) | (1 << 5));
    t.w32(si + SI_PENDING, 1 << 2);
    t.w32(si + 4, 0); t.w8(si, 0);
    const unmask = (port: number) => { t.w32(ARG, port); return t.call(NR.event_channel_op, 9, ARG); };
    expect(unmask(2)).toBe(0);
    expect(t.r32(si + SI_MASK)).toBe(1 << 5);
    expect(t.r32(si + 4)).toBe(1);
    expect(t.mem.read8(si)).toBe(1);
    expect(unmask(5)).toBe(0); // a free port: success, nothing changes
    expect(t.r32(si + SI_MASK)).toBe(1 << 5);
    expect(unmask(1024)).toBe(-E.EINVAL);
    expect(t.call(NR.event_channel_op, 9, 0xfffff000)).toBe(-E.EFAULT);
    // Unmasking a port that is not pending raises nothing.
    t.w32(si + SI_MASK, 1 << 1); t.w32(si + 4, 0); t.w8(si, 0);
    expect(unmask(1)).toBe(0);
    expect([t.r32(si + SI_MASK), t.r32(si + 4), t.mem.read8(si)]).toEqual([0, 0, 0]);
  });
  it('bind_vcpu, and the commands xenkit refuses', () => {
    const t = setup();
    const bv = (port: number, vcpu: number) => { t.w32(ARG, port); t.w32(ARG + 4, vcpu); return t.call(NR.event_channel_op, 8, ARG); };
    expect(bv(2, 0)).toBe(0);
    expect(bv(2, 1)).toBe(-E.ENOENT);
    expect(bv(3, 0)).toBe(-E.EINVAL);
    // FIFO ABI, priorities (2-level: none) and unknown commands; no physical IRQs.
    for (const cmd of [11, 12]) expect(t.call(NR.event_channel_op, cmd, ARG)).toBe(-E.EOPNOTSUPP); // no FIFO ABI, as a Xen built without it
    for (const cmd of [13, 99]) expect(t.call(NR.event_channel_op, cmd, ARG)).toBe(-E.ENOSYS);
    expect(t.call(NR.event_channel_op, 2, ARG)).toBe(-E.EPERM);
  });
  it('event_channel_op_compat wraps the same commands (PV only)', () => {
    const t = setup();
    t.w32(ARG, 4); t.w32(ARG + 4, 2);
    expect(t.call(NR.event_channel_op_compat, ARG)).toBe(0);
    t.w32(ARG + 4, 3);
    expect(t.call(NR.event_channel_op_compat, ARG)).toBe(-E.EINVAL);
    t.mem.fill(ARG, 28, 0);
    t.w32(ARG, 5); t.w16(ARG + 4, DOMID.SELF); t.w32(ARG + 8, 1);
    expect(t.call(NR.event_channel_op_compat, ARG)).toBe(0);
    expect([t.r32(ARG + 12), t.r32(ARG + 24)]).toEqual([2, 1]);
    t.w32(ARG, 10);
    expect(t.call(NR.event_channel_op_compat, ARG)).toBe(-E.ENOSYS);
    for (const p of t.wild) expect(t.call(NR.event_channel_op_compat, p)).toBe(-E.EFAULT);
    expect(t.call(NR.event_channel_op_compat, t.mem.size - 20)).toBe(-E.EFAULT); // 28 bytes do not fit
    const pvh = setup('pvh');
    pvh.w32(ARG, 4); pvh.w32(ARG + 4, 2);
    expect(pvh.call(NR.event_channel_op_compat, ARG)).toBe(-E.ENOSYS);
  });
});

describe('grant_table_op', () => {
  it('set_version: v1 only; v2 -ENOSYS so XTF skips it', () => {
    for (const type of ['pv', 'pvh'] as const) {
      const t = setup(type);
      t.w32(ARG, 1);
      expect(t.call(NR.grant_table_op, 8, ARG, 1)).toBe(0);
      t.w32(ARG, 2);
      expect(t.call(NR.grant_table_op, 8, ARG, 1)).toBe(-E.ENOSYS);
      expect(t.r32(ARG)).toBe(1);
      t.w32(ARG, 3);
      expect(t.call(NR.grant_table_op, 8, ARG, 1)).toBe(-E.EINVAL);
      expect(t.r32(ARG)).toBe(1);
      for (const p of t.wild) expect(t.call(NR.grant_table_op, 8, p, 1)).toBe(-E.EFAULT);
    }
  });
  it('get_version and query_size', () => {
    const t = setup();
    t.w16(ARG, DOMID.SELF); t.w32(ARG + 4, 0);
    expect(t.call(NR.grant_table_op, 10, ARG, 1)).toBe(0);
    expect(t.r32(ARG + 4)).toBe(1);
    t.w16(ARG, 0);
    expect(t.call(NR.grant_table_op, 10, ARG, 1)).toBe(-E.EPERM);
    t.w16(ARG, 6);
    expect(t.call(NR.grant_table_op, 10, ARG, 1)).toBe(-E.ESRCH);
    t.mem.fill(BUF, 16, 0xaa); t.w16(BUF, DOMID.SELF);
    expect(t.call(NR.grant_table_op, 6, BUF, 1)).toBe(0);
    expect([t.r32(BUF + 4), t.r32(BUF + 8), t.r16s(BUF + 12)]).toEqual([GRANT_FRAMES, GRANT_FRAMES, 0]);
    t.w16(BUF, 9);
    expect(t.call(NR.grant_table_op, 6, BUF, 1)).toBe(0);
    expect(t.r16s(BUF + 12)).toBe(-2); // GNTST_bad_domain
    t.w16(BUF, 0);
    expect(t.call(NR.grant_table_op, 6, BUF, 1)).toBe(0);
    expect(t.r16s(BUF + 12)).toBe(-8); // GNTST_permission_denied
    expect(t.call(NR.grant_table_op, 6, BUF, 2)).toBe(-E.EINVAL);
    expect(t.call(NR.grant_table_op, 6, 0xfffff000, 1)).toBe(-E.EFAULT);
  });
  it('setup_table returns the frames (PV: MFNs)', () => {
    const t = setup();
    const setupTable = (nr: number, list: number, dom: number = DOMID.SELF, count = 1) => {
      t.w16(ARG, dom); t.w32(ARG + 4, nr); t.w16(ARG + 8, 0x7777); t.w32(ARG + 12, list);
      return t.call(NR.grant_table_op, 2, ARG, count);
    };
    expect(setupTable(2, BUF)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(0);
    expect([t.r32(BUF), t.r32(BUF + 4)]).toEqual([t.dom.grantFrames[0], t.dom.grantFrames[1]]);
    expect(t.dom.grantFrames[0]).toBeGreaterThanOrEqual(RAM_PAGES);
    expect(setupTable(GRANT_FRAMES + 1, BUF)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(-1); // GNTST_general_error
    expect(setupTable(1, BUF, 0)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(-8);
    expect(setupTable(1, BUF, 4)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(-2);
    expect(setupTable(1, 0xf6000000)).toBe(-E.EFAULT); // PV range check
    expect(setupTable(1, t.mem.size)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(-5); // GNTST_bad_virt_addr
    expect(setupTable(1, BUF, DOMID.SELF, 2)).toBe(-E.EINVAL);
    expect(setupTable(1, BUF, DOMID.SELF, 0)).toBe(0); // compat_grant_table_op: count 0 does nothing
    for (const p of t.wild) expect(t.call(NR.grant_table_op, 2, p, 1)).toBe(-E.EFAULT);
  });
  it('setup_table for PVH reports where frames were placed', () => {
    const t = setup('pvh');
    t.w16(ARG, DOMID.SELF); t.w16(ARG + 2, 0); t.w32(ARG + 4, 1); t.w32(ARG + 8, 0); t.w32(ARG + 12, 0x300);
    expect(t.call(NR.memory_op, 7, ARG)).toBe(0);
    t.w16(ARG, DOMID.SELF); t.w32(ARG + 4, 2); t.w32(ARG + 12, BUF);
    expect(t.call(NR.grant_table_op, 2, ARG, 1)).toBe(0);
    expect([t.r32(BUF), t.r32(BUF + 4)]).toEqual([0x300, 0xffffffff]);
    t.w16(ARG, DOMID.SELF); t.w32(ARG + 4, 1); t.w32(ARG + 12, 0xfffff000);
    expect(t.call(NR.grant_table_op, 2, ARG, 1)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(-5);
  });
  it('bad counts, continuation bits, unsupported and PVH-filtered commands', () => {
    const pv = setup();
    expect(pv.call(NR.grant_table_op, 6, BUF, 0xffffffff)).toBe(-E.EINVAL);
    expect(pv.call(NR.grant_table_op, 0x1006, BUF, 1)).toBe(-E.EINVAL);
    for (const cmd of [3, 12, 0x100c, 99]) expect(pv.call(NR.grant_table_op, cmd, BUF, 1)).toBe(-E.ENOSYS); // map/unmap/copy/...: tests/xen/grants.test.ts
    const pvh = setup('pvh');
    expect(pvh.call(NR.grant_table_op, 3, BUF, 1)).toBe(-E.ENOSYS); // dump_table is not for HVM
    expect(pvh.call(NR.grant_table_op, 0x1006, BUF, 1)).toBe(-E.ENOSYS);
    expect(pvh.call(NR.grant_table_op, 6, BUF, 0xffffffff)).toBe(-E.EINVAL);
  });
});

describe('availability and trace describers', () => {
  it('registers the core calls for both types, compat calls for PV only', () => {
    const pv = setup(), pvh = setup('pvh');
    for (const nr of [12, 13, 17, 18, 20, 21, 24, 29, 32, 34]) {
      expect(pv.dom.hypercalls.get(nr)?.avail).toEqual({ pv: true, pvh: true });
    }
    for (const nr of [6, 16]) expect(pv.dom.hypercalls.get(nr)?.avail).toEqual({ pv: true, pvh: false });
    expect(pvh.call(NR.event_channel_op_compat, 0)).toBe(-E.ENOSYS);
  });
  it('decode sub-ops and key fields', () => {
    const t = setup();
    const d = (nr: number, ...a: number[]) => t.dom.hypercalls.get(nr)!.describe!([...a, 0, 0, 0, 0, 0, 0].slice(0, 6), t.dom.guest);
    t.mem.writeBytes(BUF, new TextEncoder().encode('hi\n'));
    expect(d(18, 0, 3, BUF)).toBe('write count=3 "hi\\n"');
    t.w32(ARG, 3);
    expect(d(29, 2, ARG)).toBe('shutdown reason=crash');
    expect(d(29, 0, 0)).toBe('yield');
    expect(d(6, 2, 0)).toBe('shutdown reason=poweroff');
    expect(d(17, 6, ARG)).toBe('get_features submap_idx=3');
    expect(d(21, 0, 2)).toBe('enable writable_pagetables');
    t.w16(ARG, 0x7ff0);
    expect(d(12, 3, ARG)).toBe('current_reservation dom=0x7ff0');
    t.w16(ARG, 0x7ff0); t.w32(ARG + 4, 0); t.w32(ARG + 8, 0); t.w32(ARG + 12, 0x100);
    expect(d(12, 7, ARG)).toBe('add_to_physmap dom=0x7ff0 space=shared_info idx=0x0 gpfn=0x100');
    t.w16(ARG, 0x7ff0); t.w32(ARG + 4, 17);
    expect(d(34, 1, ARG)).toBe('get_param dom=0x7ff0 CONSOLE_PFN');
    t.w32(ARG + 4, 0); t.w64(ARG + 8, (2n << 56n) | 0xf3n);
    expect(d(34, 0, ARG)).toBe('set_param dom=0x7ff0 CALLBACK_IRQ=0x2000000000000f3 (type 2 vector 0xf3)');
    expect(d(24, 3, 0)).toBe('is_up vcpu=0');
    t.w32(ARG, 2);
    expect(d(32, 4, ARG)).toBe('send port=2');
    t.w32(ARG, 4); t.w32(ARG + 4, 2);
    expect(d(16, ARG)).toBe('send port=2');
    t.w32(ARG, 2);
    expect(d(20, 8, ARG, 1)).toBe('set_version version=2');
    t.w32(BUF, 17);
    expect(d(13, BUF, 2)).toMatch(/^list=0x20000 nr=2 \[xen_version, /);
    expect(d(18, 0, 3, 0xfffff000)).toBe('write count=3 (unreadable)');
  });
  it('never throw on garbage', () => {
    for (const type of ['pv', 'pvh'] as const) {
      const t = setup(type);
      const values = [0, 1, 2, 3, 5, 7, 9, 16, 23, 0x7ff0, 0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff, t.mem.size, t.mem.size - 3, ARG];
      let seed = 12345;
      const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return values[seed % values.length]!; };
      t.mem.fill(ARG, 64, 0xff);
      for (const nr of [6, 12, 13, 16, 17, 18, 20, 21, 24, 29, 32, 34]) {
        const def = t.dom.hypercalls.get(nr)!;
        expect(def.describe).toBeTypeOf('function');
        for (let i = 0; i < 200; i++) {
          const args = [rnd(), rnd(), rnd(), rnd(), rnd(), rnd()];
          expect(typeof def.describe!(args, t.dom.guest)).toBe('string');
        }
        for (const bad of [[], [NaN, -1, 1.5], [-5, 2 ** 40]]) expect(typeof def.describe!(bad, t.dom.guest)).toBe('string');
      }
    }
  });
});
