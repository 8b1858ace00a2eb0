/**
 * Test helper: assemble a snippet with GNU `as --32` and list its
 * instructions as `objdump -d -M intel` sees them (address, bytes, text),
 * cached under tests/.build by a hash of the source. Also loads the bytes
 * into a CPU so our decoder can walk the same code.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu, flatAttr } from '../../src/vmm/cpu/index.js';
import { Cpu, Seg, SA } from '../../src/vmm/cpu/cpu.js';

export interface ObjdumpInsn {
  addr: number;
  bytes: number[];
  /** objdump's text, e.g. `lock xchg DWORD PTR [ebx],eax`. */
  text: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const buildRoot = join(here, '..', '.build', 'objdump');

/** Assemble `src` (AT&T unless it says otherwise) and disassemble it. */
export function objdump(src: string, code16 = false): { insns: ObjdumpInsn[]; code: Uint8Array } {
  const full = (code16 ? '  .code16\n' : '') + src + '\n';
  const hash = createHash('sha256').update(full).update(String(code16)).digest('hex').slice(0, 16);
  const dir = join(buildRoot, hash);
  const out = join(dir, 'dump.txt');
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.s'), full);
    execFileSync('as', ['--32', '-o', join(dir, 'a.o'), join(dir, 'a.s')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const args = ['-d', '-M', 'intel', '--insn-width=16', '-j', '.text'];
    if (code16) args.push('-m', 'i8086');
    const dump = execFileSync('objdump', [...args, join(dir, 'a.o')], { encoding: 'utf8', maxBuffer: 1 << 26 });
    writeFileSync(out, dump);
  }
  const insns: ObjdumpInsn[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(line);
    if (!m) continue;
    const bytes = m[2]!.trim().split(' ').map((b) => parseInt(b, 16));
    insns.push({ addr: parseInt(m[1]!, 16), bytes, text: m[3]!.trim() });
  }
  const len = insns.reduce((n, i) => Math.max(n, i.addr + i.bytes.length), 0);
  const code = new Uint8Array(len);
  for (const i of insns) code.set(i.bytes, i.addr);
  return { insns, code };
}

/** Physical address the code is loaded at; CS base, so EIP = objdump address. */
export const LOAD = 0x10000;

/** A CPU at CPL 0 with `code` at CS:0 (CS base LOAD), 32- or 16-bit code. */
export function cpuWithCode(code: Uint8Array, code16 = false): Cpu {
  const mem = new PhysMemory(4 << 20);
  mem.writeBytes(LOAD, code);
  const cpu = createCpu(mem);
  const attr = flatAttr(true, 0) & ~(code16 ? SA.DB : 0);
  cpu.loadSegCache(Seg.CS, 0x08, LOAD, 0xfffff, attr);
  return cpu;
}
