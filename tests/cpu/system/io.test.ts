/**
 * Port I/O in the emulator (families/sysregs.ts): IN/OUT in every encoding
 * and size, INS/OUTS with REP, DF and both address sizes, and the
 * protected-mode I/O permission rules (Intel SDM vol. 1 §19.5, vol. 3A
 * §16.5 / ch. 8 TSS layout): CPL <= IOPL allows everything; otherwise the
 * 32-bit TSS I/O permission bit map decides, read two bytes at a time,
 * within the TSS limit. A fake CpuHost records every access, so the tests
 * also check that a faulting instruction performs no I/O at all.
 */
import { describe, expect, it } from 'vitest';
import { Seg, SA } from '../../../src/vmm/cpu/cpu.js';
import { CODE, DATA, SEL, TSS, makeEnv, runAsm, type Env } from './sysregs-env.js';

const GP = 13, PF = 14;
const EAX = 0, ECX = 1, ESI = 6, EDI = 7;
const u = (n: number): number => n >>> 0;
const reg = (env: Env, n: number): number => env.cpu.r32[n]! >>> 0;
/** The I/O map in the standard TSS starts at TSS + 0x68 and covers all 65536 ports. */
const IOMAP = TSS + 0x68;

/** Load TR with the standard 32-bit TSS (busy) or a variant. */
function loadTr(env: Env, limit = 0x2068, type = 0xb): void {
  env.cpu.loadSegCache(Seg.TR, SEL.TSS32_BUSY, TSS, limit, 0x80 | type);
}

/** Forbid `port` in the bit map. */
function deny(env: Env, port: number): void {
  const a = IOMAP + (port >> 3);
  env.mem.write8(a, env.mem.read8(a) | (1 << (port & 7)));
}

const log = (env: Env): string[] => env.host.log.map((a) => `${a.op}${a.size} ${a.port.toString(16)}=${a.value.toString(16)}`);

describe('IN/OUT encodings and sizes', () => {
  it('IN AL/AX/EAX from imm8 and DX; narrow forms keep the rest of EAX', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movl $0x11223344, %eax\n  inb $0x60, %al\n  movl %eax, %ebx
  movl $0x11223344, %eax\n  inw $0x61, %ax\n  movl %eax, %ecx
  inl $0x62, %eax\n  movl %eax, %esi
  movw $0x3f8, %dx\n  movl $0x11223344, %eax\n  inb %dx, %al\n  movl %eax, %edi
  movl $0x11223344, %eax\n  inw %dx, %ax\n  movl %eax, %ebp\n  inl %dx, %eax`);
    expect(r.done).toBe(true);
    expect([reg(env, 3), reg(env, ECX), reg(env, ESI), reg(env, EDI), reg(env, 5), reg(env, EAX)])
      .toEqual([0x11223360, 0x1122a561, 0x5a5a0062, 0x112233f8, 0x1122a5f8, 0x5a5a03f8]);
    expect(log(env)).toEqual(['in1 60=60', 'in2 61=a561', 'in4 62=5a5a0062', 'in1 3f8=f8', 'in2 3f8=a5f8', 'in4 3f8=5a5a03f8']);
  });

  it('OUT imm8 and DX forms send AL/AX/EAX', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movl $0xdeadbeef, %eax\n  outb %al, $0x80\n  outw %ax, $0x81\n  outl %eax, $0x82
  movw $0xcf8, %dx\n  outb %al, %dx\n  outw %ax, %dx\n  outl %eax, %dx`);
    expect(r.done).toBe(true);
    expect(log(env)).toEqual(['out1 80=ef', 'out2 81=beef', 'out4 82=deadbeef', 'out1 cf8=ef', 'out2 cf8=beef', 'out4 cf8=deadbeef']);
  });

  it('IN/OUT with imm8 use the zero-extended byte as the port (DX ignored)', () => {
    const env = makeEnv();
    expect(runAsm(env, '  movl $0xffff, %edx\n  inb $0xff, %al\n  outb %al, $0xfe').done).toBe(true);
    expect(log(env)).toEqual(['in1 ff=ff', 'out1 fe=ff']);
  });
});

describe('I/O permission (SDM vol. 1 §19.5)', () => {
  it('CPL <= IOPL: allowed without consulting any TSS', () => {
    const env = makeEnv();
    expect(runAsm(env, '  inb $0x60, %al', { cpl: 3, iopl: 3 }).done).toBe(true);
    expect(log(env)).toEqual(['in1 60=60']);
  });

  it('CPL > IOPL with no TSS loaded: #GP(0) and no I/O', () => {
    const env = makeEnv();
    for (const i of ['inb $0x60, %al', 'outb %al, $0x60', 'inl %dx, %eax', 'outw %ax, %dx']) {
      const r = runAsm(env, `  ${i}`, { cpl: 3 });
      expect([r.fault?.vector, r.fault?.errorCode, r.fault?.eip]).toEqual([GP, 0, CODE]);
    }
    expect(log(env)).toEqual([]);
  });

  it('CPL > IOPL: the bit map decides, per port, for every byte of the access', () => {
    const env = makeEnv();
    loadTr(env);
    deny(env, 0x61);
    deny(env, 0x40);
    const ok = (src: string): boolean => runAsm(env, `  ${src}`, { cpl: 3, iopl: 2 }).done;
    expect(ok('inb $0x60, %al')).toBe(true);
    expect(ok('inb $0x62, %al')).toBe(true);
    expect(ok('inb $0x61, %al')).toBe(false);
    expect(ok('inw $0x60, %ax')).toBe(false); // covers 0x60 and 0x61
    expect(ok('inw $0x5f, %ax')).toBe(true);
    expect(ok('inl $0x5e, %eax')).toBe(false); // 0x5e-0x61
    expect(ok('inl $0x3d, %eax')).toBe(false); // 0x3d-0x40: straddles two map bytes
    expect(ok('inl $0x3c, %eax')).toBe(true);
    expect(ok('outb %al, $0x61')).toBe(false);
    expect(log(env).map((s) => s.split(' ')[0] + ' ' + s.split(' ')[1]!.split('=')[0])).toEqual(['in1 60', 'in1 62', 'in2 5f', 'in4 3c']);
  });

  it('CPL 1 with IOPL 1 is allowed; CPL 2 with IOPL 1 consults the map', () => {
    const env = makeEnv();
    loadTr(env);
    deny(env, 0x70);
    expect(runAsm(env, '  inb $0x70, %al', { cpl: 1, iopl: 1 }).done).toBe(true);
    const r = runAsm(env, '  inb $0x70, %al', { cpl: 2, iopl: 1 });
    expect([r.fault?.vector, r.fault?.errorCode]).toEqual([GP, 0]);
  });

  it('the map is read two bytes at a time: the byte after the one needed must lie within the TSS limit', () => {
    const env = makeEnv();
    // Limit ends exactly at the map byte for ports 0x78-0x7f.
    loadTr(env, 0x68 + 0x0f);
    expect(runAsm(env, '  inb $0x70, %al', { cpl: 3 }).done).toBe(true);
    const r = runAsm(env, '  inb $0x78, %al', { cpl: 3 });
    expect([r.fault?.vector, r.fault?.errorCode]).toEqual([GP, 0]);
    expect(log(env)).toEqual(['in1 70=70']);
  });

  it('a map base at or beyond the limit means no map: everything is #GP(0)', () => {
    const env = makeEnv();
    loadTr(env, 0x67 + 0x100);
    env.mem.write16(TSS + 0x66, 0x200);
    const r = runAsm(env, '  inb $0x0, %al', { cpl: 3 });
    expect([r.fault?.vector, r.fault?.errorCode]).toEqual([GP, 0]);
  });

  it('a 16-bit TSS has no map, and a 32-bit TSS shorter than 0x68 bytes cannot hold the map base', () => {
    const env = makeEnv();
    loadTr(env, 0x2068, 0x3);
    expect(runAsm(env, '  inb $0x60, %al', { cpl: 3 }).fault?.vector).toBe(GP);
    loadTr(env, 0x66, 0xb);
    expect(runAsm(env, '  inb $0x60, %al', { cpl: 3 }).fault?.vector).toBe(GP);
    env.cpu.loadSegCache(Seg.TR, 0, 0, 0, SA.NULL);
    expect(runAsm(env, '  inb $0x60, %al', { cpl: 3 }).fault?.vector).toBe(GP);
    expect(log(env)).toEqual([]);
  });

  it('the map read is a supervisor access: it works at CPL 3 on a supervisor-only TSS page', () => {
    const env = makeEnv();
    loadTr(env);
    const PD = 0x100000, PT = 0x101000;
    env.mem.write32(PD, PT | 7);
    for (let k = 0; k < 1024; k++) env.mem.write32(PT + k * 4, (k << 12) | 7);
    for (let p = TSS; p < TSS + 0x3000; p += 0x1000) env.mem.write32(PT + (p >> 12) * 4, p | 3); // not user
    env.cpu.cr3 = PD;
    env.cpu.cr0 |= 0x80000000;
    env.cpu.tlbFlushAll();
    expect(runAsm(env, '  inb $0x60, %al', { cpl: 3 }).done).toBe(true);
    deny(env, 0x60);
    const r2 = runAsm(env, '  inb $0x60, %al', { cpl: 3 });
    expect([r2.fault?.vector, r2.fault?.errorCode]).toEqual([GP, 0]);
  });
});

describe('INS/OUTS', () => {
  it('INSB/INSW/INSD store at ES:EDI and step EDI by the size (DF=0 up, DF=1 down)', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movw $0x10, %dx\n  movl $${DATA}, %edi\n  insb\n  insw\n  insl\n  movl %edi, %ebx
  std\n  movl $${DATA + 0x100}, %edi\n  insl\n  insw\n  insb\n  cld`);
    expect(r.done).toBe(true);
    expect(reg(env, 3)).toBe(DATA + 7);
    expect(reg(env, EDI)).toBe(DATA + 0x100 - 7);
    expect(Array.from(env.mem.readBytes(DATA, 7))).toEqual([0x10, 0x10, 0xa5, 0x10, 0x00, 0x5a, 0x5a]);
    expect(u(env.mem.read32(DATA + 0x100))).toBe(0x5a5a0010);
    expect(env.mem.read16(DATA + 0xfc)).toBe(0xa510);
    expect(env.mem.read8(DATA + 0xfa)).toBe(0x10);
  });

  it('REP INSW runs ECX times; REP with ECX=0 does no I/O', () => {
    const env = makeEnv();
    let n = 0;
    env.host.inValue = () => n++;
    const r = runAsm(env, `  movw $0x1f0, %dx\n  movl $${DATA}, %edi\n  movl $256, %ecx\n  rep insw
  xorl %ecx, %ecx\n  rep insw`);
    expect(r.done).toBe(true);
    expect([reg(env, ECX), reg(env, EDI)]).toEqual([0, DATA + 512]);
    expect(env.host.log.length).toBe(256);
    expect(env.mem.read16(DATA + 510)).toBe(255);
  });

  it('INS always writes ES, ignoring segment overrides', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.FS, 0x10, 0x40000, 0xffffffff, 0x93 | SA.DB | SA.G);
    expect(runAsm(env, `  movw $0x10, %dx\n  movl $${DATA}, %edi\n  .byte 0x64\n  insb`).done).toBe(true);
    expect(env.mem.read8(DATA)).toBe(0x10);
    expect(env.mem.read8(0x40000 + DATA)).toBe(0);
  });

  it('16-bit address size: DI/SI/CX, wrapping at 64 KiB', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movw $0x10, %dx\n  movl $0x1234ffff, %edi\n  movl $0xabcd0002, %ecx\n  .byte 0x67\n  rep insb
  movl $0x5678ffff, %esi\n  movl $0xabcd0002, %ecx\n  .byte 0x67\n  rep outsb`);
    expect(r.done).toBe(true);
    expect([reg(env, EDI), reg(env, ESI), reg(env, ECX)]).toEqual([0x12340001, 0x56780001, 0xabcd0000]);
    expect([env.mem.read8(0xffff), env.mem.read8(0)]).toEqual([0x10, 0x10]);
    expect(log(env).slice(2)).toEqual(['out1 10=10', 'out1 10=10']);
  });

  it('OUTSB/W/D read DS:ESI (segment override honoured) and step ESI; REP OUTSD', () => {
    const env = makeEnv();
    env.mem.writeBytes(DATA, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
    env.cpu.loadSegCache(Seg.FS, 0x10, DATA, 0xffff, 0x93 | SA.DB);
    const r = runAsm(env, `  movw $0x80, %dx\n  movl $${DATA}, %esi\n  outsb\n  outsw\n  outsl
  xorl %esi, %esi\n  movl $2, %ecx\n  rep outsl %fs:(%esi), %dx`);
    expect(r.done).toBe(true);
    expect(log(env)).toEqual(['out1 80=1', 'out2 80=302', 'out4 80=7060504', 'out4 80=4030201', 'out4 80=8070605']);
    expect([reg(env, ESI), reg(env, ECX)]).toEqual([8, 0]);
  });

  it('a destination fault happens before the port is read: no device data is lost', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.ES, 0x10, DATA, 0x0ff, 0x93 | SA.DB);
    // REP INSB of 4 bytes at ES:0xfe: the third byte is beyond the limit.
    const r = runAsm(env, '  movw $0x10, %dx\n  movl $0xfe, %edi\n  movl $4, %ecx\n  rep insb');
    expect([r.fault?.vector, r.fault?.errorCode, r.fault?.eip]).toEqual([GP, 0, CODE + 14]);
    expect(env.host.log.length).toBe(2);
    // Registers describe the two completed iterations, so the instruction restarts correctly.
    expect([reg(env, EDI), reg(env, ECX)]).toEqual([0x100, 2]);
  });

  it('a source fault happens before the port is written', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.DS, 0x10, DATA, 0x0ff, 0x93 | SA.DB);
    const r = runAsm(env, '  movw $0x10, %dx\n  movl $0xfe, %esi\n  outsl');
    expect([r.fault?.vector, r.fault?.errorCode]).toEqual([GP, 0]);
    expect(log(env)).toEqual([]);
  });

  it('a page fault on the destination leaves the port unread', () => {
    const env = makeEnv();
    const PD = 0x100000, PT = 0x101000;
    env.mem.write32(PD, PT | 3);
    for (let k = 0; k < 1024; k++) env.mem.write32(PT + k * 4, (k << 12) | 3);
    env.mem.write32(PT + (DATA >> 12) * 4, 0); // not present
    env.cpu.cr3 = PD;
    env.cpu.cr0 |= 0x80000000;
    env.cpu.tlbFlushAll();
    const r = runAsm(env, `  movw $0x10, %dx\n  movl $${DATA}, %edi\n  insl`);
    expect([r.fault?.vector, r.fault?.errorCode, r.fault?.cr2]).toEqual([PF, 2, DATA]);
    expect(log(env)).toEqual([]);
  });

  it('the permission check precedes everything, even a REP count of 0 (as on the host)', () => {
    const env = makeEnv();
    for (const i of ['rep insb', 'rep outsb']) {
      const r = runAsm(env, `  xorl %ecx, %ecx\n  movl $${DATA}, %esi\n  movl %esi, %edi\n  ${i}`, { cpl: 3 });
      expect([r.fault?.vector, r.fault?.errorCode, r.fault?.eip]).toEqual([GP, 0, CODE + 2 + 5 + 2]);
    }
    expect(log(env)).toEqual([]);
  });

  it('a long REP is split into restartable chunks and still completes', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movw $0x10, %dx\n  movl $${DATA}, %esi\n  movl $3000, %ecx\n  rep outsb`);
    expect(r.done).toBe(true);
    expect([reg(env, ECX), reg(env, ESI)]).toEqual([0, DATA + 3000]);
    expect(env.host.log.length).toBe(3000);
  });
});
