/**
 * Small guests for the event-channel and time tests: a code snippet (AT&T,
 * labels allowed) run on a whole Machine.
 *
 *  - `pvRig`: boots the loader fixture pv-min.elf with the real PV builder
 *    (real page tables, selectors, start state, upcall mask 1) and drops the
 *    snippet into a free page of the bootstrap region (VA = PA there).
 *    Hypercalls are `int $0x82` with the number in EAX.
 *  - `pvhRig`: links the snippet into a PVH kernel (only a PHYS32_ENTRY
 *    note) at 1 MiB; the snippet starts flat in ring 0 with paging off and
 *    brings its own GDT, IDT and stack (`PVH_PROLOGUE`). Hypercalls are
 *    `vmcall`.
 *
 * Both take MachineOptions' clock (absent: deterministic). Build products
 * go to tests/.build/events (cached by content hash).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine, type MachineOptions } from '../../src/vmm/machine.js';
import { R } from '../../src/vmm/cpu/cpu.js';
import { asm } from '../cpu/system/fixture.js';

const here = dirname(fileURLToPath(import.meta.url));
const PV_MIN = new Uint8Array(readFileSync(join(here, '..', 'fixtures', 'loader', 'pv-min.elf')));
const LINK_LD = join(here, '..', 'fixtures', 'loader', 'link.ld');
const buildDir = join(here, '..', '.build', 'events');

/** Hypercall numbers the snippets use. */
export const HC = {
  set_callbacks: 4, set_timer_op: 15, iret: 23, vcpu_op: 24, sched_op: 29, event_channel_op: 32, hvm_op: 34,
} as const;

export interface Rig {
  m: Machine;
  /** Address of a label of the snippet. */
  at(label: string): number;
  /** 32-bit read at a guest address (VA = PA in both rigs). */
  rd(addr: number): number;
  /** shared_info's physical address now. */
  si(): number;
  /** The snippet's first byte. */
  code: number;
}

type RigOptions = Pick<MachineOptions, 'clock'>;

function labelsOf(src: string): string[] {
  return [...src.matchAll(/^\s*([A-Za-z_][\w]*):/gm)].map((x) => x[1]!);
}

/** Boot pv-min and place `src` in the bootstrap region; EIP at its start. */
export function pvRig(src: string, o: RigOptions = {}): Rig {
  const m = new Machine({ kernel: inspectKernel(PV_MIN, 'pv-min.elf'), console: { write() {} }, memory: 16 << 20, ...o });
  const end = m.boot.layout.bootstrap_end!;
  const code = end - 0x10000;
  const labels = labelsOf(src);
  const table = labels.map((l) => `.long ${l}`).join('\n');
  const bin = asm(`${src}\n.p2align 2\nlabel_table:\n${table}\n`, code);
  if (bin.length > 0x8000) throw new Error('snippet too large');
  m.mem.writeBytes(code, bin);
  const tableAt = code + bin.length - labels.length * 4;
  const addr = new Map(labels.map((l, i) => [l, m.mem.read32(tableAt + i * 4) >>> 0]));
  m.cpu.eip = code;
  return rigOf(m, addr, code);
}

/**
 * What a PVH snippet starts with: a flat GDT (code 0x10, data 0x18 as at
 * PVH entry), an IDT of 256 empty gates (fill with `SET_GATE`), a 4 KiB
 * stack. The snippet continues at `main`.
 */
export const PVH_PROLOGUE = `
    lgdt gdt_desc
    lidt idt_desc
    movl $stack_top, %esp
    jmp main
    .p2align 3
gdt:
    .quad 0, 0
    .quad 0x00cf9b000000ffff
    .quad 0x00cf93000000ffff
gdt_desc:
    .word 31
    .long gdt
    .p2align 3
idt:
    .fill 256, 8, 0
idt_desc:
    .word 2047
    .long idt
    .p2align 4
stack:
    .fill 4096, 1, 0
stack_top:
`;

/** Assembler macro text: install a 32-bit interrupt gate for `vec` → `handler` (clobbers EAX, EDX). */
export function setGate(vec: number, handler: string): string {
  return `
    movl $${handler}, %eax
    movl $idt + ${vec * 8}, %edx
    movw %ax, (%edx)
    movw $0x10, 2(%edx)
    movw $0x8e00, 4(%edx)
    shrl $16, %eax
    movw %ax, 6(%edx)`;
}

/** Link `src` (after PVH_PROLOGUE) into a PVH kernel and boot it. */
export function pvhRig(src: string, o: RigOptions = {}): Rig {
  const body = `${PVH_PROLOGUE}\n${src}`;
  const labels = labelsOf(body);
  const text = `
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
    .text
    .globl _start
_start:
${body}
    .p2align 2
    .globl label_table
label_table:
${labels.map((l) => `    .long ${l}`).join('\n')}
`;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 20);
  const elf = join(buildDir, `pvh-${hash}.elf`);
  if (!existsSync(elf)) {
    mkdirSync(buildDir, { recursive: true });
    const s = join(buildDir, `pvh-${hash}.S`);
    writeFileSync(s, text);
    execFileSync('gcc', ['-m32', '-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', `-Wl,-T,${LINK_LD}`, '-o', elf, s],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const kernel = inspectKernel(new Uint8Array(readFileSync(elf)), elf);
  const m = new Machine({ kernel, console: { write() {} }, memory: 16 << 20, ...o });
  const sym = kernel.symbols.address('label_table');
  if (sym === undefined) throw new Error('no label_table symbol');
  const addr = new Map(labels.map((l, i) => [l, m.mem.read32(sym + i * 4) >>> 0]));
  return rigOf(m, addr, kernel.entry);
}

function rigOf(m: Machine, addr: Map<string, number>, code: number): Rig {
  return {
    m, code,
    at: (l) => { const a = addr.get(l); if (a === undefined) throw new Error(`no label ${l}`); return a; },
    rd: (a) => m.mem.read32(a) >>> 0,
    si: () => m.domain.sharedInfoPa,
  };
}

/** Step one instruction budget at a time until EIP is at `label`; throws if the machine stops first. */
export function runTo(r: Rig, label: string, max = 100_000): void {
  const target = r.at(label);
  for (let i = 0; i < max && r.m.cpu.eip >>> 0 !== target; i++) {
    const e = r.m.step(1);
    if (e !== null) throw new Error(`machine stopped: ${JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  }
  if (r.m.cpu.eip >>> 0 !== target) throw new Error(`not at ${label} (0x${target.toString(16)}) but at 0x${(r.m.cpu.eip >>> 0).toString(16)}`);
}

/** The general registers as unsigned numbers. */
export function regs(m: Machine): Record<'eax' | 'ebx' | 'ecx' | 'edx' | 'esp', number> {
  const c = m.cpu.r32;
  return { eax: c[R.EAX]! >>> 0, ebx: c[R.EBX]! >>> 0, ecx: c[R.ECX]! >>> 0, edx: c[R.EDX]! >>> 0, esp: c[R.ESP]! >>> 0 };
}

/** A host clock the test moves by hand. */
export class FakeClock {
  mono = 1_000_000_000n;
  real = 1_700_000_000_123_456_789n;
  monotonicNs(): bigint { return this.mono; }
  realtimeNs(): bigint { return this.real; }
  advance(ns: bigint): void { this.mono += ns; this.real += ns; }
}
