/**
 * Xen's public header xen.h (with arch-x86/xen.h and arch-x86/xen-x86_32.h)
 * for x86_32: hypercall numbers, core constants, and the layouts of
 * start_info, shared_info, vcpu_info and the PV core-call arguments.
 *
 * Mirrors templates/minios/include/xen/xen.h; tests/xen/abi-layout.test.ts
 * checks one against the other with gcc -m32. Offsets are x86_32 ones:
 * uint64_t members are 4-byte aligned there.
 */
import { constants, struct } from './layout.js';

/** The Xen interface version these modules describe. */
export const __XEN_LATEST_INTERFACE_VERSION__ = 0x00041300;

/** Hypercall numbers (EAX); HYPERCALL.x is C's __HYPERVISOR_x. */
export const HYPERCALL = constants('__HYPERVISOR_', {
  set_trap_table: 0,
  mmu_update: 1,
  set_gdt: 2,
  stack_switch: 3,
  set_callbacks: 4,
  fpu_taskswitch: 5,
  sched_op_compat: 6,
  platform_op: 7,
  set_debugreg: 8,
  get_debugreg: 9,
  update_descriptor: 10,
  memory_op: 12,
  multicall: 13,
  update_va_mapping: 14,
  set_timer_op: 15,
  event_channel_op_compat: 16,
  xen_version: 17,
  console_io: 18,
  physdev_op_compat: 19,
  grant_table_op: 20,
  vm_assist: 21,
  update_va_mapping_otherdomain: 22,
  iret: 23,
  vcpu_op: 24,
  set_segment_base: 25,
  mmuext_op: 26,
  xsm_op: 27,
  nmi_op: 28,
  sched_op: 29,
  callback_op: 30,
  xenoprof_op: 31,
  event_channel_op: 32,
  physdev_op: 33,
  hvm_op: 34,
  sysctl: 35,
  domctl: 36,
  kexec_op: 37,
  tmem_op: 38,
  argo_op: 39,
  xenpmu_op: 40,
  dm_op: 41,
  hypfs_op: 42,
  arch_0: 48,
  arch_1: 49,
  arch_2: 50,
  arch_3: 51,
  arch_4: 52,
  arch_5: 53,
  arch_6: 54,
  arch_7: 55,
});

/** Virtual IRQs for EVTCHNOP_bind_virq. */
export const VIRQ = constants('VIRQ_', {
  TIMER: 0, DEBUG: 1, CONSOLE: 2, DOM_EXC: 3, TBUF: 4, DEBUGGER: 6, XENOPROF: 7, CON_RING: 8,
  PCPU_STATE: 9, MEM_EVENT: 10, ARGO: 11, ENOMEM: 12, XENPMU: 13,
  ARCH_0: 16, ARCH_1: 17, ARCH_2: 18, ARCH_3: 19, ARCH_4: 20, ARCH_5: 21, ARCH_6: 22, ARCH_7: 23,
});
export const NR_VIRQS = 24;

/** mmu_update commands (low 2 bits of mmu_update.ptr). */
export const MMU = constants('MMU_', {
  NORMAL_PT_UPDATE: 0,
  MACHPHYS_UPDATE: 1,
  PT_UPDATE_PRESERVE_AD: 2,
  PT_UPDATE_NO_TRANSLATE: 3,
});

/** mmuext_op commands. */
export const MMUEXT = constants('MMUEXT_', {
  PIN_L1_TABLE: 0, PIN_L2_TABLE: 1, PIN_L3_TABLE: 2, PIN_L4_TABLE: 3, UNPIN_TABLE: 4,
  NEW_BASEPTR: 5, TLB_FLUSH_LOCAL: 6, INVLPG_LOCAL: 7, TLB_FLUSH_MULTI: 8, INVLPG_MULTI: 9,
  TLB_FLUSH_ALL: 10, INVLPG_ALL: 11, FLUSH_CACHE: 12, SET_LDT: 13, NEW_USER_BASEPTR: 15,
  CLEAR_PAGE: 16, COPY_PAGE: 17, FLUSH_CACHE_GLOBAL: 18, MARK_SUPER: 19, UNMARK_SUPER: 20,
});

/**
 * update_va_mapping flags. Bits 0-1: flush type; bit 2: scope. With MULTI
 * the upper bits are a pointer to a vCPU bitmap (NULL = LOCAL).
 */
export const UVMF = constants('UVMF_', {
  NONE: 0, TLB_FLUSH: 1, INVLPG: 2, FLUSHTYPE_MASK: 3, MULTI: 0, LOCAL: 0, ALL: 4,
});

export const CONSOLEIO = constants('CONSOLEIO_', { write: 0, read: 1 });

export const VMASST_CMD = constants('VMASST_CMD_', { enable: 0, disable: 1 });
export const VMASST_TYPE = constants('VMASST_TYPE_', {
  '4gb_segments': 0,
  '4gb_segments_notify': 1,
  writable_pagetables: 2,
  pae_extended_cr3: 3,
  architectural_iopl: 4,
  runstate_update_flag: 5,
  m2p_strict: 32,
});

/** Reserved domain ids. */
export const DOMID = constants('DOMID_', {
  FIRST_RESERVED: 0x7ff0, SELF: 0x7ff0, IO: 0x7ff1, XEN: 0x7ff2, COW: 0x7ff3,
  INVALID: 0x7ff4, ANY: 0x7ff5, IDLE: 0x7fff, MASK: 0x7fff,
});

/** start_info.flags (also hvm_start_info.flags). */
export const SIF = constants('SIF_', {
  PRIVILEGED: 1 << 0,
  INITDOMAIN: 1 << 1,
  MULTIBOOT_MOD: 1 << 2,
  MOD_START_PFN: 1 << 3,
  VIRT_P2M_4TOOLS: 1 << 4,
  PM_MASK: 0xff << 8,
});

export const MAX_GUEST_CMDLINE = 1024;
export const XEN_LEGACY_MAX_VCPUS = 32;

/** vcpu_time_info.flags */
export const XEN_PVCLOCK = constants('XEN_PVCLOCK_', { TSC_STABLE_BIT: 1 << 0, GUEST_STOPPED: 1 << 1 });

/** Xen-reserved GDT area (page 14 onwards) and its flat selectors. */
export const FIRST_RESERVED_GDT_PAGE = 14;
export const FIRST_RESERVED_GDT_BYTE = 14 * 4096;
export const FIRST_RESERVED_GDT_ENTRY = (14 * 4096) / 8;
export const FLAT = constants('FLAT_', {
  RING1_CS: 0xe019, RING1_DS: 0xe021, RING1_SS: 0xe021,
  RING3_CS: 0xe02b, RING3_DS: 0xe033, RING3_SS: 0xe033,
  KERNEL_CS: 0xe019, KERNEL_DS: 0xe021, KERNEL_SS: 0xe021,
  USER_CS: 0xe02b, USER_DS: 0xe033, USER_SS: 0xe033,
});

/** The PAE guest's hypervisor hole; the read-only M2P table opens it. */
export const HYPERVISOR_VIRT_START = 0xf5800000;
export const MACH2PHYS_VIRT_START = 0xf5800000;
export const MACH2PHYS_VIRT_END = 0xf6800000;
export const MACH2PHYS_NR_ENTRIES = (0xf6800000 - 0xf5800000) / 4;

export const XEN_HVM_DEBUGCONS_IOPORT = 0xe9;

/** vcpu_guest_context.flags */
export const VGCF = constants('VGCF_', {
  i387_valid: 1 << 0,
  in_kernel: 1 << 2,
  failsafe_disables_events: 1 << 3,
  syscall_disables_events: 1 << 4,
  online: 1 << 5,
});

/** The start_info magic of a PAE x86_32 PV guest. */
export const START_INFO_MAGIC_X86_32P = 'xen-3.0-x86_32p';

/** The forced-emulation prefix (ud2; "xen") PV guests put before cpuid. */
export const XEN_EMULATE_PREFIX_BYTES: readonly number[] = Object.freeze([0x0f, 0x0b, 0x78, 0x65, 0x6e]);

/** CR3 value for a page-directory frame ("extended CR3"; x86_32). */
export function xenPfnToCr3(pfn: number): number {
  return ((pfn << 12) | (pfn >>> 20)) >>> 0;
}
export function xenCr3ToPfn(cr3: number): number {
  return ((cr3 >>> 12) | (cr3 << 20)) >>> 0;
}

// ---------------------------------------------------------------------------
// Layouts

export const TRAP_INFO = struct('struct trap_info', 8, {
  vector: [0, 'u8'],
  flags: [1, 'u8'],
  cs: [2, 'u16'],
  address: [4, 'u32'],
});

export const XEN_CALLBACK = struct('struct xen_callback', 8, {
  cs: [0, 'u32'],
  eip: [4, 'u32'],
});

export const MMU_UPDATE = struct('struct mmu_update', 16, {
  ptr: [0, 'u64'],
  val: [8, 'u64'],
});

export const MMUEXT_OP = struct('struct mmuext_op', 12, {
  cmd: [0, 'u32'],
  arg1: [4, 'blob[4]'],
  'arg1.mfn': [4, 'u32'],
  'arg1.linear_addr': [4, 'u32'],
  arg2: [8, 'blob[4]'],
  'arg2.nr_ents': [8, 'u32'],
  'arg2.vcpumask': [8, 'ptr'],
  'arg2.src_mfn': [8, 'u32'],
});

export const MULTICALL_ENTRY = struct('struct multicall_entry', 32, {
  op: [0, 'u32'],
  result: [4, 'u32'],
  args: [8, 'u32[6]'],
});

export const VCPU_TIME_INFO = struct('struct vcpu_time_info', 32, {
  version: [0, 'u32'],
  pad0: [4, 'u32'],
  tsc_timestamp: [8, 'u64'],
  system_time: [16, 'u64'],
  tsc_to_system_mul: [24, 'u32'],
  tsc_shift: [28, 'i8'],
  flags: [29, 'u8'],
  pad1: [30, 'u8[2]'],
});

export const ARCH_VCPU_INFO = struct('struct arch_vcpu_info', 24, {
  cr2: [0, 'u32'],
  pad: [4, 'u32[5]'],
});

export const VCPU_INFO = struct('struct vcpu_info', 64, {
  evtchn_upcall_pending: [0, 'u8'],
  evtchn_upcall_mask: [1, 'u8'],
  evtchn_pending_sel: [4, 'u32'],
  arch: [8, ARCH_VCPU_INFO],
  'arch.cr2': [8, 'u32'],
  time: [32, VCPU_TIME_INFO],
  'time.version': [32, 'u32'],
  'time.tsc_timestamp': [40, 'u64'],
  'time.system_time': [48, 'u64'],
  'time.tsc_to_system_mul': [56, 'u32'],
  'time.tsc_shift': [60, 'i8'],
  'time.flags': [61, 'u8'],
});

export const ARCH_SHARED_INFO = struct('struct arch_shared_info', 28, {
  max_pfn: [0, 'u32'],
  pfn_to_mfn_frame_list_list: [4, 'u32'],
  nmi_reason: [8, 'u32'],
  p2m_cr3: [12, 'u32'],
  p2m_vaddr: [16, 'u32'],
  p2m_generation: [20, 'u32'],
  wc_sec_hi: [24, 'u32'],
});

/** The shared-info page; 2-level event bitmaps are 32 × 32-bit words. */
export const SHARED_INFO = struct('struct shared_info', 2344, {
  vcpu_info: [0, VCPU_INFO, 32],
  evtchn_pending: [2048, 'u32[32]'],
  evtchn_mask: [2176, 'u32[32]'],
  wc_version: [2304, 'u32'],
  wc_sec: [2308, 'u32'],
  wc_nsec: [2312, 'u32'],
  arch: [2316, ARCH_SHARED_INFO],
  'arch.max_pfn': [2316, 'u32'],
  'arch.pfn_to_mfn_frame_list_list': [2320, 'u32'],
  'arch.nmi_reason': [2324, 'u32'],
  'arch.p2m_cr3': [2328, 'u32'],
  'arch.p2m_vaddr': [2332, 'u32'],
  'arch.p2m_generation': [2336, 'u32'],
  'arch.wc_sec_hi': [2340, 'u32'],
});

/** PV start-of-day information, x86_32 (1112 bytes; its VA arrives in ESI). */
export const START_INFO = struct('struct start_info', 1112, {
  magic: [0, 'char[32]'],
  nr_pages: [32, 'u32'],
  shared_info: [36, 'u32'],
  flags: [40, 'u32'],
  store_mfn: [44, 'u32'],
  store_evtchn: [48, 'u32'],
  console: [52, 'blob[8]'],
  'console.domU.mfn': [52, 'u32'],
  'console.domU.evtchn': [56, 'u32'],
  'console.dom0.info_off': [52, 'u32'],
  'console.dom0.info_size': [56, 'u32'],
  pt_base: [60, 'u32'],
  nr_pt_frames: [64, 'u32'],
  mfn_list: [68, 'u32'],
  mod_start: [72, 'u32'],
  mod_len: [76, 'u32'],
  cmd_line: [80, 'i8[1024]'],
  first_p2m_pfn: [1104, 'u32'],
  nr_p2m_frames: [1108, 'u32'],
});

export const CPU_USER_REGS = struct('struct cpu_user_regs', 68, {
  ebx: [0, 'u32'],
  ecx: [4, 'u32'],
  edx: [8, 'u32'],
  esi: [12, 'u32'],
  edi: [16, 'u32'],
  ebp: [20, 'u32'],
  eax: [24, 'u32'],
  error_code: [28, 'u16'],
  entry_vector: [30, 'u16'],
  eip: [32, 'u32'],
  cs: [36, 'u16'],
  saved_upcall_mask: [38, 'u8'],
  _pad0: [39, 'u8'],
  eflags: [40, 'u32'],
  esp: [44, 'u32'],
  ss: [48, 'u16'],
  _pad1: [50, 'u16'],
  es: [52, 'u16'],
  _pad2: [54, 'u16'],
  ds: [56, 'u16'],
  _pad3: [58, 'u16'],
  fs: [60, 'u16'],
  _pad4: [62, 'u16'],
  gs: [64, 'u16'],
  _pad5: [66, 'u16'],
});

/** Full PV vCPU state for VCPUOP_initialise (2800 bytes). */
export const VCPU_GUEST_CONTEXT = struct('struct vcpu_guest_context', 2800, {
  fpu_ctxt: [0, 'blob[512]'],
  flags: [512, 'u32'],
  user_regs: [516, CPU_USER_REGS],
  trap_ctxt: [584, TRAP_INFO, 256],
  ldt_base: [2632, 'u32'],
  ldt_ents: [2636, 'u32'],
  gdt_frames: [2640, 'u32[16]'],
  gdt_ents: [2704, 'u32'],
  kernel_ss: [2708, 'u32'],
  kernel_sp: [2712, 'u32'],
  ctrlreg: [2716, 'u32[8]'],
  debugreg: [2748, 'u32[8]'],
  event_callback_cs: [2780, 'u32'],
  event_callback_eip: [2784, 'u32'],
  failsafe_callback_cs: [2788, 'u32'],
  failsafe_callback_eip: [2792, 'u32'],
  vm_assist: [2796, 'u32'],
});
