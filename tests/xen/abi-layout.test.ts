/**
 * The ABI probe: the TypeScript ABI modules (src/vmm/xen/abi) and the
 * guest template's C headers (templates/minios/include/xen) must describe
 * the same x86_32 Xen ABI, and both must match Xen.
 *
 * 1. From every layout and numeric constant the TS modules export
 *    (ABI_MODULES), generate one C file of _Static_asserts — sizeof of each
 *    struct, offsetof / size / signedness / type of each field, the value
 *    of each constant — and compile it with
 *    `gcc -m32 -ffreestanding -fsyntax-only -I templates/minios/include`.
 *    gcc's message names the struct, field or constant that disagrees.
 *    Nothing is listed by hand: a new layout or constant is probed as soon
 *    as it is exported.
 * 2. Check a set of values directly against docs/xen-abi reference facts,
 *    so TS and C cannot drift away from Xen together.
 * 3. Check the other direction too: every struct, union, enumerator and
 *    object-like macro the C headers define has a TS counterpart, apart
 *    from a short list of C-only helpers.
 * 4. Check that the probe really fails on a wrong offset, size, sign or
 *    constant, that the headers compile cleanly on their own, strictly,
 *    and from assembly, and the codec and ring helpers.
 *
 * Optional cross-check against Xen itself: set XENKIT_XEN_PUBLIC to a
 * checkout's xen/include/public directory and the same probe is compiled
 * against Xen's own headers (layouts and constants xenkit adds are
 * skipped there).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ABI_MODULES,
  type AbiModule,
  type Layout,
  BLKIF_OP,
  BLKIF_REQUEST,
  BLKIF_REQUEST_DISCARD,
  BLKIF_REQUEST_INDIRECT,
  BLKIF_RESPONSE,
  BLKIF_RING,
  BLKIF_RSP,
  BLKIF_SRING,
  CALLBACK_REGISTER,
  CALLBACKTYPE,
  CPU_USER_REGS,
  DOMID,
  E820ENTRY,
  EVTCHN_ALLOC_UNBOUND,
  EVTCHN_BIND_INTERDOMAIN,
  EVTCHN_BIND_VIRQ,
  EVTCHN_OP,
  EVTCHN_STATUS,
  EVTCHNOP,
  EVTCHNSTAT,
  FLAT,
  GNTTAB_COPY,
  GNTTAB_MAP_GRANT_REF,
  GNTTAB_QUERY_SIZE,
  GNTTAB_SETUP_TABLE,
  GNTTAB_UNMAP_GRANT_REF,
  GNTTABOP,
  GRANT_ENTRY_V1,
  GTF,
  HVM_MEMMAP_TABLE_ENTRY,
  HVM_MODLIST_ENTRY,
  HVM_PARAM,
  HVM_START_INFO,
  HYPERCALL,
  MMU_UPDATE,
  MMUEXT,
  MMUEXT_OP,
  MULTICALL_ENTRY,
  NETIF_RSP,
  NETIF_RX_REQUEST,
  NETIF_RX_RESPONSE,
  NETIF_RX_RING,
  NETIF_TX_REQUEST,
  NETIF_TX_RESPONSE,
  NETIF_TX_RING,
  NETTXF,
  SCHED_POLL,
  SCHEDOP,
  SHARED_INFO,
  SHUTDOWN,
  SRING_HEADER,
  START_INFO,
  TRAP_INFO,
  VCPU_GUEST_CONTEXT,
  VCPU_INFO,
  VCPU_REGISTER_VCPU_INFO,
  VCPU_SET_SINGLESHOT_TIMER,
  VCPU_TIME_INFO,
  VCPUOP,
  XEN_ADD_TO_PHYSMAP,
  XEN_ELFNOTE,
  XEN_ERRNO,
  XEN_HVM_PARAM,
  XEN_HVM_START_MAGIC_VALUE,
  XEN_MEMORY_MAP,
  XEN_MEMORY_RESERVATION,
  XEN_REMOVE_FROM_PHYSMAP,
  XENCONS_INTERFACE,
  XENFEAT,
  XENMAPSPACE,
  XENMEM,
  XENSTORE_DOMAIN_INTERFACE,
  XENSTORE_PAYLOAD_MAX,
  XenbusState,
  XS,
  XSD_ERRORS,
  XSD_SOCKMSG,
  backRequestsAvailable,
  constants,
  decode,
  decodeCallbackVia,
  decodeSringHeader,
  encode,
  encodeCallbackVia,
  encodeXsMessage,
  decodeXsHeader,
  errnoName,
  fieldBytes,
  finalCheck,
  groupInfo,
  initSring,
  isLayout,
  nameOf,
  needsNotify,
  parseType,
  ringEntries,
  slotOffset,
  struct,
  xenPfnToCr3,
  xenCr3ToPfn,
  xsdErrorName,
} from '../../src/vmm/xen/abi/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..');
const INCLUDE = join(ROOT, 'templates', 'minios', 'include');
const XEN_PUBLIC = process.env['XENKIT_XEN_PUBLIC'];

const work = mkdtempSync(join(tmpdir(), 'xenkit-abi-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------
// Probe generation

const SIGNED = new Set(['i8', 'i16', 'i32', 'i64']);

/** A C literal for a TS constant (unsigned suffix where C needs one). */
function cLiteral(v: number | bigint): string {
  if (typeof v === 'bigint') return `0x${BigInt.asUintN(64, v).toString(16)}ULL`;
  if (!Number.isInteger(v)) throw new Error(`non-integer constant ${v}`);
  if (v < 0) return `(${v})`;
  if (v > 0x7fffffff) return `0x${v.toString(16)}u`;
  return String(v);
}

interface ProbeOptions {
  /** Probing Xen's own headers: skip what xenkit adds, and handles are structs there. */
  readonly xenHeaders?: boolean;
}

interface Probe {
  readonly source: string;
  readonly structs: number;
  readonly fields: number;
  readonly constants: number;
}

function probeLayout(l: Layout, lines: string[], opts: ProbeOptions): number {
  const T = l.cname;
  lines.push(`/* ${T} */`);
  lines.push(`_Static_assert(sizeof(${T}) == ${l.size}, "${T}: TS says size ${l.size}");`);
  let fields = 0;
  for (const [name, spec] of Object.entries(l.specs)) {
    fields++;
    const where = `${T} field ${name}`;
    const off = spec[0];
    const m = `(((${T} *)0)->${name})`;
    lines.push(`_Static_assert(offsetof(${T}, ${name}) == ${off}, "${where}: TS says offset ${off}");`);
    const t = spec[1];
    if (typeof t !== 'string') {
      const count = spec[2];
      const ctype = count === undefined ? t.cname : `${t.cname}[${count}]`;
      lines.push(`_Static_assert(__builtin_types_compatible_p(__typeof__(${m}), ${ctype}), "${where}: TS says type ${ctype}");`);
      lines.push(`_Static_assert(sizeof(${m}) == ${fieldBytes(spec)}, "${where}: TS says ${fieldBytes(spec)} bytes");`);
      continue;
    }
    const p = parseType(t);
    if (p.bytes > 0) {
      lines.push(`_Static_assert(sizeof(${m}) == ${p.bytes}, "${where}: TS says ${p.bytes} bytes (${t})");`);
    }
    if (p.kind === 'blob') continue;
    const elem = p.kind === 'array' ? `(${m}[0])` : m;
    if (p.kind === 'array') {
      lines.push(`_Static_assert(sizeof(${elem}) == ${p.bytes / p.count}, "${where}: TS says ${p.scalar} elements");`);
    }
    if (p.scalar === 'ptr') {
      if (!opts.xenHeaders) {
        lines.push(`_Static_assert(__builtin_classify_type(${elem}) == 5, "${where}: TS says pointer (guest handle)");`);
      }
    } else if (p.scalar !== 'char') {
      const signed = SIGNED.has(p.scalar) ? 1 : 0;
      lines.push(`_Static_assert((((__typeof__(${elem}))-1) < 0) == ${signed}, "${where}: TS says ${signed ? 'signed' : 'unsigned'}");`);
    }
  }
  return fields;
}

function probeConstant(cname: string, value: number | bigint, lines: string[]): void {
  const lit = cLiteral(value);
  lines.push(`_Static_assert((${cname}) == ${lit}, "${cname}: TS says ${lit.replace(/"/g, '')}");`);
}

/** The C probe for `modules` (default: every ABI module). */
function generateProbe(modules: readonly AbiModule[] = ABI_MODULES, opts: ProbeOptions = {}): Probe {
  const head: string[] = [];
  const body: string[] = [];
  if (opts.xenHeaders) head.push('#include <stdint.h>', '#include <stddef.h>');
  const includes = new Set<string>();
  for (const mod of modules) for (const h of opts.xenHeaders ? mod.xenHeaders : mod.headers) includes.add(h);
  for (const h of includes) head.push(`#include <${h}>`);
  head.push('#include <stddef.h>', '');

  let structs = 0;
  let fields = 0;
  let consts = 0;
  const seen = new Set<unknown>();
  for (const mod of modules) {
    body.push(`/* ---- ${mod.name} ---- */`);
    for (const [exp, value] of Object.entries(mod.exports)) {
      if (seen.has(value) && typeof value === 'object') continue;
      seen.add(value);
      if (isLayout(value)) {
        if (opts.xenHeaders && value.xenkitOnly) continue;
        structs++;
        fields += probeLayout(value, body, opts);
        continue;
      }
      const g = groupInfo(value);
      if (g) {
        if (opts.xenHeaders && g.xenkitOnly) continue;
        for (const [k, v] of Object.entries(value as Record<string, number | bigint>)) {
          probeConstant(g.prefix + k, v, body);
          consts++;
        }
        continue;
      }
      if (typeof value === 'number' || typeof value === 'bigint') {
        probeConstant(exp, value, body);
        consts++;
      }
    }
  }
  return { source: [...head, ...body, ''].join('\n'), structs, fields, constants: consts };
}

interface GccResult {
  readonly ok: boolean;
  readonly errors: string;
}

let seq = 0;
function gcc(source: string, args: readonly string[], ext = 'c'): GccResult {
  const file = join(work, `probe-${seq++}.${ext}`);
  writeFileSync(file, source);
  const r = spawnSync('gcc', ['-m32', ...args, file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const errors = (r.stderr ?? '')
    .split('\n')
    .filter((l) => /error|undeclared|note: /.test(l))
    .map((l) => l.replace(`${file}:`, ''))
    .join('\n');
  return { ok: r.status === 0, errors: errors || (r.stderr ?? '') };
}

const CFLAGS = ['-ffreestanding', '-std=gnu11', '-fsyntax-only', '-I', INCLUDE];

function expectCompiles(r: GccResult, what: string): void {
  if (!r.ok) throw new Error(`gcc rejected ${what}:\n${r.errors}`);
}

// ---------------------------------------------------------------------------

describe('ABI probe: TS layouts and constants vs templates/minios/include/xen (gcc -m32)', () => {
  const probe = generateProbe();

  it('covers every module, struct, field and constant', () => {
    const asserts = probe.source.split('_Static_assert').length - 1;
    console.log(`ABI probe: ${probe.structs} structs, ${probe.fields} fields, ${probe.constants} constants, ${asserts} static assertions`);
    // Sanity floor, so a broken export scan cannot pass vacuously.
    expect(probe.structs).toBeGreaterThanOrEqual(100);
    expect(probe.fields).toBeGreaterThanOrEqual(450);
    expect(probe.constants).toBeGreaterThanOrEqual(550);
  });

  it('compiles: every size, offset, member type and constant agrees', () => {
    expectCompiles(gcc(probe.source, CFLAGS), 'the ABI probe');
  });

  it('every TS layout has a distinct C name', () => {
    const byName = new Map<string, Layout>();
    for (const mod of ABI_MODULES) {
      for (const v of Object.values(mod.exports)) {
        if (!isLayout(v)) continue;
        const prev = byName.get(v.cname);
        if (prev && prev !== v) throw new Error(`${v.cname} is declared twice`);
        byName.set(v.cname, v);
      }
    }
    expect(byName.size).toBe(probe.structs);
  });

  it.skipIf(!XEN_PUBLIC)("compiles against Xen's own public headers (XENKIT_XEN_PUBLIC)", () => {
    const xprobe = generateProbe(ABI_MODULES, { xenHeaders: true });
    const r = gcc(xprobe.source, [
      '-ffreestanding', '-std=gnu11', '-fsyntax-only', '-D__XEN_INTERFACE_VERSION__=0x00041300', '-I', XEN_PUBLIC ?? '',
    ]);
    expectCompiles(r, "the ABI probe against Xen's headers");
  });
});

describe('the probe catches disagreement', () => {
  const fake = (exports: Record<string, unknown>): AbiModule[] => [
    { name: 'fake.ts', headers: ['xen/xen.h', 'xen/io/blkif.h'], xenHeaders: [], exports },
  ];

  it('a wrong offset', () => {
    const bad = struct('struct start_info', 1112, { nr_pages: [36, 'u32'] });
    const r = gcc(generateProbe(fake({ bad })).source, CFLAGS);
    expect(r.ok).toBe(false);
    expect(r.errors).toContain('struct start_info field nr_pages: TS says offset 36');
  });

  it('a wrong struct size', () => {
    const bad = struct('struct blkif_request', 112, { id: [4, 'u64'] });
    const r = gcc(generateProbe(fake({ bad })).source, CFLAGS);
    expect(r.ok).toBe(false);
    expect(r.errors).toContain('struct blkif_request: TS says size 112');
  });

  it('a wrong member width or signedness', () => {
    const width = struct('struct blkif_response', 12, { status: [10, 'i8'] });
    const sign = struct('struct blkif_response', 12, { status: [10, 'u16'] });
    const r1 = gcc(generateProbe(fake({ width })).source, CFLAGS);
    const r2 = gcc(generateProbe(fake({ sign })).source, CFLAGS);
    expect(r1.errors).toContain('struct blkif_response field status: TS says 1 bytes');
    expect(r2.errors).toContain('struct blkif_response field status: TS says unsigned');
  });

  it('a wrong nested struct type', () => {
    const bad = struct('struct vcpu_info', 64, { time: [32, TRAP_INFO, 4] });
    const r = gcc(generateProbe(fake({ bad })).source, CFLAGS);
    expect(r.errors).toContain('struct vcpu_info field time: TS says type struct trap_info[4]');
  });

  it('a wrong or missing constant', () => {
    const r1 = gcc(generateProbe(fake({ G: constants('__HYPERVISOR_', { iret: 24 }) })).source, CFLAGS);
    expect(r1.errors).toContain('__HYPERVISOR_iret: TS says 24');
    const r2 = gcc(generateProbe(fake({ XEN_NO_SUCH_CONSTANT: 1 })).source, CFLAGS);
    expect(r2.ok).toBe(false);
    expect(r2.errors).toContain('XEN_NO_SUCH_CONSTANT');
  });
});

// ---------------------------------------------------------------------------
// Values from the Xen ABI reference (xen-abi.md, sections 1.4-5.6),
// independent of both the TS modules and the C headers.

type Ref = readonly [Layout, number, Readonly<Record<string, number>>];
const REFERENCE_LAYOUTS: readonly Ref[] = [
  [START_INFO, 1112, {
    magic: 0, nr_pages: 32, shared_info: 36, flags: 40, store_mfn: 44, store_evtchn: 48,
    'console.domU.mfn': 52, 'console.domU.evtchn': 56, pt_base: 60, nr_pt_frames: 64, mfn_list: 68,
    mod_start: 72, mod_len: 76, cmd_line: 80, first_p2m_pfn: 1104, nr_p2m_frames: 1108,
  }],
  [SHARED_INFO, 2344, {
    vcpu_info: 0, evtchn_pending: 2048, evtchn_mask: 2176, wc_version: 2304, wc_sec: 2308, wc_nsec: 2312,
    'arch.max_pfn': 2316, 'arch.pfn_to_mfn_frame_list_list': 2320, 'arch.nmi_reason': 2324, 'arch.p2m_cr3': 2328,
    'arch.p2m_vaddr': 2332, 'arch.p2m_generation': 2336, 'arch.wc_sec_hi': 2340,
  }],
  [VCPU_INFO, 64, { evtchn_upcall_pending: 0, evtchn_upcall_mask: 1, evtchn_pending_sel: 4, 'arch.cr2': 8, time: 32 }],
  [VCPU_TIME_INFO, 32, {
    version: 0, pad0: 4, tsc_timestamp: 8, system_time: 16, tsc_to_system_mul: 24, tsc_shift: 28, flags: 29,
  }],
  [HVM_START_INFO, 56, {
    magic: 0, version: 4, flags: 8, nr_modules: 12, modlist_paddr: 16, cmdline_paddr: 24, rsdp_paddr: 32,
    memmap_paddr: 40, memmap_entries: 48, reserved: 52,
  }],
  [HVM_MODLIST_ENTRY, 32, { paddr: 0, size: 8, cmdline_paddr: 16, reserved: 24 }],
  [HVM_MEMMAP_TABLE_ENTRY, 24, { addr: 0, size: 8, type: 16, reserved: 20 }],
  [XEN_HVM_PARAM, 16, { domid: 0, index: 4, value: 8 }],
  [TRAP_INFO, 8, { vector: 0, flags: 1, cs: 2, address: 4 }],
  [MMU_UPDATE, 16, { ptr: 0, val: 8 }],
  [MMUEXT_OP, 12, { cmd: 0, arg1: 4, arg2: 8 }],
  [MULTICALL_ENTRY, 32, { op: 0, result: 4, args: 8 }],
  [CALLBACK_REGISTER, 12, { type: 0, flags: 2, 'address.cs': 4, 'address.eip': 8 }],
  [CPU_USER_REGS, 68, {
    ebx: 0, ecx: 4, edx: 8, esi: 12, edi: 16, ebp: 20, eax: 24, error_code: 28, entry_vector: 30, eip: 32,
    cs: 36, saved_upcall_mask: 38, eflags: 40, esp: 44, ss: 48, es: 52, ds: 56, fs: 60, gs: 64,
  }],
  [VCPU_GUEST_CONTEXT, 2800, { fpu_ctxt: 0, flags: 512, user_regs: 516, trap_ctxt: 584 }],
  [EVTCHN_ALLOC_UNBOUND, 8, { dom: 0, remote_dom: 2, port: 4 }],
  [EVTCHN_BIND_INTERDOMAIN, 12, { remote_dom: 0, remote_port: 4, local_port: 8 }],
  [EVTCHN_BIND_VIRQ, 12, { virq: 0, vcpu: 4, port: 8 }],
  [EVTCHN_STATUS, 24, { dom: 0, port: 4, status: 8, vcpu: 12, u: 16, 'u.interdomain.dom': 16, 'u.interdomain.port': 20 }],
  [EVTCHN_OP, 28, { cmd: 0, u: 4 }],
  [SCHED_POLL, 16, { ports: 0, nr_ports: 4, timeout: 8 }],
  [XEN_MEMORY_RESERVATION, 20, { extent_start: 0, nr_extents: 4, extent_order: 8, mem_flags: 12, domid: 16 }],
  [XEN_ADD_TO_PHYSMAP, 16, { domid: 0, size: 2, space: 4, idx: 8, gpfn: 12 }],
  [XEN_REMOVE_FROM_PHYSMAP, 8, { domid: 0, gpfn: 4 }],
  [XEN_MEMORY_MAP, 8, { nr_entries: 0, buffer: 4 }],
  [E820ENTRY, 20, { addr: 0, size: 8, type: 16 }],
  [VCPU_SET_SINGLESHOT_TIMER, 12, { timeout_abs_ns: 0, flags: 8 }],
  [VCPU_REGISTER_VCPU_INFO, 16, { mfn: 0, offset: 8, rsvd: 12 }],
  [GRANT_ENTRY_V1, 8, { flags: 0, domid: 2, frame: 4 }],
  [GNTTAB_SETUP_TABLE, 16, { dom: 0, nr_frames: 4, status: 8, frame_list: 12 }],
  [GNTTAB_MAP_GRANT_REF, 32, { host_addr: 0, flags: 8, ref: 12, dom: 16, status: 18, handle: 20, dev_bus_addr: 24 }],
  [GNTTAB_UNMAP_GRANT_REF, 24, { host_addr: 0, dev_bus_addr: 8, handle: 16, status: 20 }],
  [GNTTAB_COPY, 24, {
    'source.u.ref': 0, 'source.domid': 4, 'source.offset': 6, dest: 8, len: 16, flags: 18, status: 20,
  }],
  [GNTTAB_QUERY_SIZE, 16, {}],
  [BLKIF_REQUEST, 108, { operation: 0, nr_segments: 1, handle: 2, id: 4, sector_number: 12, seg: 20 }],
  [BLKIF_RESPONSE, 12, { id: 0, operation: 8, status: 10 }],
  [BLKIF_REQUEST_DISCARD, 28, {}],
  [BLKIF_REQUEST_INDIRECT, 64, {}],
  [BLKIF_SRING, 64, { req_prod: 0, req_event: 4, rsp_prod: 8, rsp_event: 12, pvt: 16, __pad: 20, ring: 64 }],
  [NETIF_TX_REQUEST, 12, { gref: 0, offset: 4, flags: 6, id: 8, size: 10 }],
  [NETIF_TX_RESPONSE, 4, { id: 0, status: 2 }],
  [NETIF_RX_REQUEST, 8, { id: 0, gref: 4 }],
  [NETIF_RX_RESPONSE, 8, { id: 0, offset: 2, flags: 4, status: 6 }],
  [XENCONS_INTERFACE, 3092, {
    in: 0, out: 1024, in_cons: 3072, in_prod: 3076, out_cons: 3080, out_prod: 3084, connection: 3088,
  }],
  [XENSTORE_DOMAIN_INTERFACE, 2080, {
    req: 0, rsp: 1024, req_cons: 2048, req_prod: 2052, rsp_cons: 2056, rsp_prod: 2060, server_features: 2064,
    connection: 2068, error: 2072, evtchn_port: 2076,
  }],
  [XSD_SOCKMSG, 16, { type: 0, req_id: 4, tx_id: 8, len: 12 }],
];

describe('values from the Xen ABI reference', () => {
  it.each(REFERENCE_LAYOUTS.map((r) => [r[0].cname, r] as const))('%s', (_name, [layout, size, fields]) => {
    expect(layout.size).toBe(size);
    for (const [f, off] of Object.entries(fields)) {
      expect.soft(layout.fields[f], `${layout.cname}.${f}`).toBe(off);
    }
  });

  it('hypercall numbers', () => {
    const ref: Record<string, number> = {
      set_trap_table: 0, mmu_update: 1, set_gdt: 2, stack_switch: 3, set_callbacks: 4, fpu_taskswitch: 5,
      sched_op_compat: 6, platform_op: 7, set_debugreg: 8, get_debugreg: 9, update_descriptor: 10, memory_op: 12,
      multicall: 13, update_va_mapping: 14, set_timer_op: 15, event_channel_op_compat: 16, xen_version: 17,
      console_io: 18, physdev_op_compat: 19, grant_table_op: 20, vm_assist: 21, update_va_mapping_otherdomain: 22,
      iret: 23, vcpu_op: 24, set_segment_base: 25, mmuext_op: 26, xsm_op: 27, nmi_op: 28, sched_op: 29,
      callback_op: 30, xenoprof_op: 31, event_channel_op: 32, physdev_op: 33, hvm_op: 34, sysctl: 35, domctl: 36,
      kexec_op: 37, tmem_op: 38, argo_op: 39, xenpmu_op: 40, dm_op: 41, hypfs_op: 42, arch_0: 48, arch_7: 55,
    };
    for (const [k, v] of Object.entries(ref)) expect.soft((HYPERCALL as Record<string, number>)[k], k).toBe(v);
  });

  it('sub-op numbers and flags', () => {
    expect(EVTCHNOP).toMatchObject({ bind_interdomain: 0, bind_virq: 1, close: 3, send: 4, status: 5, alloc_unbound: 6, bind_ipi: 7, unmask: 9, set_priority: 13 });
    expect(EVTCHNSTAT).toMatchObject({ closed: 0, unbound: 1, interdomain: 2, pirq: 3, virq: 4, ipi: 5 });
    expect(GNTTABOP).toMatchObject({ map_grant_ref: 0, unmap_grant_ref: 1, setup_table: 2, copy: 5, query_size: 6, set_version: 8, get_version: 10, swap_grant_ref: 11 });
    expect(GTF).toMatchObject({ permit_access: 1, accept_transfer: 2, transitive: 3, readonly: 4, reading: 8, writing: 16, PWT: 32, PCD: 64, PAT: 128, transfer_committed: 4, transfer_completed: 8 });
    expect(SCHEDOP).toMatchObject({ yield: 0, block: 1, shutdown: 2, poll: 3, remote_shutdown: 4, shutdown_code: 5, watchdog: 6, pin_override: 7 });
    expect(SHUTDOWN).toMatchObject({ poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 });
    expect(XENMEM).toMatchObject({ increase_reservation: 0, decrease_reservation: 1, current_reservation: 3, populate_physmap: 6, add_to_physmap: 7, memory_map: 9, remove_from_physmap: 15 });
    expect(XENMAPSPACE).toMatchObject({ shared_info: 0, grant_table: 1, gmfn: 2, gmfn_range: 3, gmfn_foreign: 4 });
    expect(MMUEXT).toMatchObject({ PIN_L1_TABLE: 0, UNPIN_TABLE: 4, NEW_BASEPTR: 5, TLB_FLUSH_ALL: 10, INVLPG_ALL: 11, SET_LDT: 13, NEW_USER_BASEPTR: 15, UNMARK_SUPER: 20 });
    expect(VCPUOP).toMatchObject({ initialise: 0, up: 1, stop_periodic_timer: 7, set_singleshot_timer: 8, register_vcpu_info: 10, register_vcpu_time_phys_area: 15 });
    expect(CALLBACKTYPE).toMatchObject({ event: 0, failsafe: 1, syscall: 2, nmi: 4, sysenter: 5, syscall32: 7 });
    expect(HVM_PARAM).toMatchObject({ CALLBACK_IRQ: 0, STORE_PFN: 1, STORE_EVTCHN: 2, CONSOLE_PFN: 17, CONSOLE_EVTCHN: 18 });
    expect(XENFEAT).toMatchObject({ writable_page_tables: 0, auto_translated_physmap: 2, pae_pgdir_above_4gb: 4, hvm_callback_vector: 8, dom0: 11, direct_mapped: 17 });
    expect(XEN_ELFNOTE).toMatchObject({ ENTRY: 1, HYPERCALL_PAGE: 2, XEN_VERSION: 5, LOADER: 8, PAE_MODE: 9, FEATURES: 10, PHYS32_ENTRY: 18, PHYS32_RELOC: 19 });
    expect(DOMID).toMatchObject({ SELF: 0x7ff0, IO: 0x7ff1, XEN: 0x7ff2, INVALID: 0x7ff4, IDLE: 0x7fff });
    expect(FLAT).toMatchObject({ RING1_CS: 0xe019, RING1_DS: 0xe021, RING3_CS: 0xe02b, RING3_DS: 0xe033 });
    expect(XEN_ERRNO).toMatchObject({ EPERM: 1, ENOENT: 2, ESRCH: 3, EIO: 5, E2BIG: 7, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOSPC: 28, EROFS: 30, ENOSYS: 38, ENOTEMPTY: 39, EOPNOTSUPP: 95, EISCONN: 106 });
    expect(XS).toMatchObject({ CONTROL: 0, DIRECTORY: 1, READ: 2, WATCH: 4, TRANSACTION_START: 6, TRANSACTION_END: 7, GET_DOMAIN_PATH: 10, WRITE: 11, MKDIR: 12, RM: 13, WATCH_EVENT: 15, ERROR: 16, RESET_WATCHES: 21, SET_QUOTA: 26, INVALID: 0xffff });
    expect(XenbusState).toMatchObject({ Unknown: 0, Initialising: 1, InitWait: 2, Initialised: 3, Connected: 4, Closing: 5, Closed: 6, Reconfiguring: 7, Reconfigured: 8 });
    expect(BLKIF_OP).toMatchObject({ READ: 0, WRITE: 1, WRITE_BARRIER: 2, FLUSH_DISKCACHE: 3, DISCARD: 5, INDIRECT: 6 });
    expect(BLKIF_RSP).toMatchObject({ OKAY: 0, ERROR: -1, EOPNOTSUPP: -2 });
    expect(NETTXF).toMatchObject({ csum_blank: 1, data_validated: 2, more_data: 4, extra_info: 8 });
    expect(NETIF_RSP).toMatchObject({ DROPPED: -2, ERROR: -1, OKAY: 0, NULL: 1 });
    expect(XEN_HVM_START_MAGIC_VALUE).toBe(0x336ec578);
    expect(XENSTORE_PAYLOAD_MAX).toBe(4096);
    expect(XSD_ERRORS).toEqual(['EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
      'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM']);
  });

  it('ring geometry on x86_32: blkif 108 B × 32, netif tx 12 B × 256, rx 8 B × 256', () => {
    expect(BLKIF_RING).toEqual({ slotSize: 108, entries: 32 });
    expect(NETIF_TX_RING).toEqual({ slotSize: 12, entries: 256 });
    expect(NETIF_RX_RING).toEqual({ slotSize: 8, entries: 256 });
  });
});

// ---------------------------------------------------------------------------

describe('the C headers on their own', () => {
  const headers = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.h') ? [relative(INCLUDE, p)] : [];
    });
  })(join(INCLUDE, 'xen')).sort();

  it('every header is listed by an ABI module', () => {
    const listed = new Set(ABI_MODULES.flatMap((m) => m.headers));
    expect(headers.filter((h) => !listed.has(h))).toEqual([]);
  });

  it('declare nothing the TS modules lack (apart from C-only helpers)', () => {
    // Object-like macros and enumerators that are C conveniences, not ABI values.
    const C_ONLY = new Set([
      'XEN_CPUID', 'XEN_EMULATE_PREFIX',          // assembler text
      'XEN_IO_PROTO_ABI_ARM', 'XEN_IO_PROTO_ABI_NATIVE', 'XEN_IO_PROTO_ABI_X86_32', 'XEN_IO_PROTO_ABI_X86_64', // strings
      'XEN_SRING_HEADER',                          // member list for XENKIT_DEFINE_RING
      'XEN_SRING_HEADER_SIZE',                     // checked against SRING_HEADER.size below
      'machine_to_phys_mapping', 'xen_wc_sec_hi',  // pointer / member aliases
    ]);
    const C_ONLY_AGGREGATES = new Set(['struct xenkit_u64_alignment_check', 'struct xsd_errors']);
    const names = new Set<string>();
    const aggregates = new Set<string>();
    for (const h of headers) {
      const text = readFileSync(join(INCLUDE, h), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const m of text.matchAll(/^#\s*define\s+([A-Za-z_]\w*)(\()?/gm)) if (!m[2]) names.add(m[1]!);
      for (const m of text.matchAll(/\benum\s+\w+\s*\{([^}]*)\}/g)) {
        for (const item of m[1]!.split(',')) {
          const id = /^\s*([A-Za-z_]\w*)/.exec(item);
          if (id) names.add(id[1]!);
        }
      }
      for (const m of text.matchAll(/^(struct|union)\s+(\w+)\s*\{/gm)) aggregates.add(`${m[1]} ${m[2]}`);
    }
    const tsNames = new Set<string>();
    const tsLayouts = new Set<string>();
    for (const mod of ABI_MODULES) {
      for (const [exp, v] of Object.entries(mod.exports)) {
        const g = groupInfo(v);
        if (isLayout(v)) tsLayouts.add(v.cname);
        else if (g) for (const k of Object.keys(v as object)) tsNames.add(g.prefix + k);
        else if (typeof v === 'number' || typeof v === 'bigint') tsNames.add(exp);
      }
    }
    const guard = /^XENKIT_XEN_\w+_H$/;
    expect([...names].filter((n) => !tsNames.has(n) && !C_ONLY.has(n) && !guard.test(n)).sort()).toEqual([]);
    expect([...aggregates].filter((a) => !tsLayouts.has(a) && !C_ONLY_AGGREGATES.has(a)).sort()).toEqual([]);
  });

  it('each compiles alone with -Wall -Wextra -Werror -pedantic', () => {
    for (const h of headers) {
      // (the typedef keeps a macro-only header from being an empty translation unit)
      const src = `#include <${h}>\ntypedef int xenkit_not_empty;\n`;
      expectCompiles(gcc(src, [...CFLAGS, '-Wall', '-Wextra', '-Werror', '-pedantic']), h);
    }
  });

  it('all of them can be included from assembly', () => {
    const src = `${headers.map((h) => `#include <${h}>`).join('\n')}\n\tmovl $__HYPERVISOR_sched_op, %eax\n`;
    expectCompiles(gcc(src, ['-c', '-o', '/dev/null', '-I', INCLUDE], 'S'), 'the headers in assembly');
  });

  it('the ring helpers size rings as the TS modules do', () => {
    const src = [
      '#include <xen/io/blkif.h>', '#include <xen/io/netif.h>',
      `_Static_assert(XEN_SRING_HEADER_SIZE == ${SRING_HEADER.size}, "header size");`,
      `_Static_assert(XEN_RING_ENTRIES(4096, sizeof(union blkif_sring_entry)) == ${BLKIF_RING.entries}, "blkif");`,
      `_Static_assert(XEN_RING_ENTRIES(4096, sizeof(union netif_tx_sring_entry)) == ${NETIF_TX_RING.entries}, "netif tx");`,
      `_Static_assert(XEN_RING_ENTRIES(4096, sizeof(union netif_rx_sring_entry)) == ${NETIF_RX_RING.entries}, "netif rx");`,
      ...[0, 1, 2, 3, 5, 37, 64, 1000, 4095, 65535].map(
        (n) => `_Static_assert(XEN_RING_POW2_FLOOR(${n}u) == ${n === 0 ? 0 : 2 ** Math.floor(Math.log2(n))}u, "floor ${n}");`),
      '',
    ].join('\n');
    expectCompiles(gcc(src, CFLAGS), 'the ring sizing checks');
  });

  it('xs_wire.h lists the error names in the protocol order', () => {
    const src = '#include <xen/io/xs_wire.h>\nconst struct xsd_errors *xenkit_errs = xsd_errors;\n';
    const file = join(work, 'xsd.c');
    writeFileSync(file, src);
    const r = spawnSync('gcc', ['-m32', '-ffreestanding', '-S', '-o', '-', '-I', INCLUDE, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const names = [...r.stdout.matchAll(/\.string\s+"([A-Z0-9]+)"/g)].map((m) => m[1]);
    expect(names).toEqual([...XSD_ERRORS]);
    const nums = [...r.stdout.matchAll(/\.long\s+(\d+)/g)].map((m) => Number(m[1]));
    expect(nums).toEqual(XSD_ERRORS.map((n) => (XEN_ERRNO as Record<string, number>)[n]));
  });
});

// ---------------------------------------------------------------------------

describe('codec and helpers', () => {
  it('decode/encode round-trip a blkif request at an offset', () => {
    const buf = new Uint8Array(200);
    encode(BLKIF_REQUEST, { operation: BLKIF_OP.WRITE, nr_segments: 2, handle: 51712, id: 0x1122334455667788n, sector_number: 4096n }, buf, 8);
    const d = decode(BLKIF_REQUEST, buf, 8);
    expect(d.operation).toBe(1);
    expect(d.handle).toBe(51712);
    expect(d.id).toBe(0x1122334455667788n);
    expect(d.sector_number).toBe(4096n);
    expect(buf[8 + 4]).toBe(0x88); // little-endian id at offset 4 (x86_32)
    expect(d.seg.length).toBe(88);
  });

  it('signed fields decode as negative numbers', () => {
    const buf = new Uint8Array(12);
    encode(BLKIF_RESPONSE, { status: BLKIF_RSP.ERROR }, buf);
    expect(decode(BLKIF_RESPONSE, buf).status).toBe(-1);
  });

  it('rejects out-of-range access and unknown fields', () => {
    expect(() => decode(START_INFO, new Uint8Array(100))).toThrow(RangeError);
    expect(() => encode(BLKIF_RESPONSE, { nope: 1 } as never, new Uint8Array(12))).toThrow(/no field/);
    expect(() => struct('struct x', 4, { a: [2, 'u32'] })).toThrow(/does not fit/);
  });

  it('nameOf / errnoName / xenbus names', () => {
    expect(nameOf(HYPERCALL, 23)).toBe('iret');
    expect(errnoName(-38)).toBe('ENOSYS');
    expect(xsdErrorName(-2)).toBe('ENOENT');
    expect(xsdErrorName(14)).toBeUndefined(); // EFAULT has no xenstore name
  });

  it('ring rules: sizing, slots, notify and final check', () => {
    expect(ringEntries(4096, 108)).toBe(32);
    expect(ringEntries(4096 * 4, 108)).toBe(128);
    expect(slotOffset(33, 32, 108)).toBe(64 + 108);
    // peer waits for entry 5 (event 5): publishing 3→5 covers it, 5→7 does not
    expect(needsNotify(3, 5, 5)).toBe(true);
    expect(needsNotify(5, 7, 5)).toBe(false);
    expect(needsNotify(0xffffffff, 1, 0)).toBe(true); // wraps
    expect(backRequestsAvailable(10, 4, 0, 8)).toBe(4);
    let prod = 3;
    let event = 0;
    expect(finalCheck(() => prod, (v) => { event = v; }, 3)).toBe(false);
    expect(event).toBe(4);
    expect(finalCheck(() => prod++, () => {}, 3)).toBe(true);
    const page = new Uint8Array(4096).fill(0xaa);
    initSring(page);
    expect(decodeSringHeader(page)).toEqual({ req_prod: 0, req_event: 1, rsp_prod: 0, rsp_event: 1 });
    expect(page[63]).toBe(0);
    expect(page[64]).toBe(0xaa);
  });

  it('xenstore framing, callback-via and CR3 helpers', () => {
    const msg = encodeXsMessage({ type: XS.READ, req_id: 7, tx_id: 0 }, new TextEncoder().encode('domid\0'));
    expect(decodeXsHeader(msg)).toEqual({ type: 2, req_id: 7, tx_id: 0, len: 6 });
    expect(encodeCallbackVia(2, 0xf3)).toBe((2n << 56n) | 0xf3n);
    expect(decodeCallbackVia((2n << 56n) | 0xf3n)).toEqual({ type: 2, payload: 0xf3n, vector: 0xf3 });
    expect(xenPfnToCr3(0x134)).toBe(0x134000);
    expect(xenCr3ToPfn(xenPfnToCr3(0x123456))).toBe(0x123456);
  });

  it('parseType', () => {
    expect(parseType('u32[5]')).toEqual({ kind: 'array', scalar: 'u32', count: 5, bytes: 20 });
    expect(parseType('blob[8]').bytes).toBe(8);
    expect(MMUEXT_OP.fields['arg2.vcpumask']).toBe(8);
    expect(XEN_ELFNOTE.MAX).toBe(XEN_ELFNOTE.PHYS32_RELOC);
  });
});
