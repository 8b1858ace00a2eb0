/**
 * Layer 4's data: the register table, the `Reg` numbers, and target.xml
 * (gdb's acceptance of it is checked with the real gdb in gdb.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { REGISTERS, Reg, registerSize, targetXml } from '../../src/gdbstub/index.js';
import { decodeRegister, encodeRegister } from '../../src/gdbstub/session.js';

describe('register table', () => {
  it("starts in gdb's i386 order, with the x87 block the i386 core feature requires", () => {
    expect(REGISTERS.slice(0, 16).map((r) => r.name)).toEqual(
      ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']);
    expect(REGISTERS.slice(16, 32).map((r) => r.name)).toEqual(
      ['st0', 'st1', 'st2', 'st3', 'st4', 'st5', 'st6', 'st7', 'fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop']);
    expect(REGISTERS.slice(32).map((r) => r.name)).toEqual(['cr0', 'cr2', 'cr3', 'cr4', 'cpl', 'upcall_mask', 'upcall_pending']);
  });

  it('Reg names the same numbers as the table', () => {
    for (const [key, n] of Object.entries(Reg)) {
      const r = REGISTERS[n];
      expect(r, key).toBeDefined();
      if (key !== 'ST0') expect(r!.name).toBe(key.toLowerCase());
    }
    expect(registerSize(Reg.ST0)).toBe(10);
    expect(registerSize(Reg.EIP)).toBe(4);
    expect(registerSize(99)).toBe(0);
  });

  it('encodes little-endian, xx when unavailable, and decodes back', () => {
    expect(encodeRegister(Reg.EIP, 0x12345678)).toBe('78563412');
    expect(encodeRegister(Reg.EIP, -1)).toBe('ffffffff');
    expect(encodeRegister(Reg.EIP, undefined)).toBe('xxxxxxxx');
    expect(encodeRegister(Reg.ST0, Uint8Array.of(1, 2, 3))).toBe('01020300000000000000');
    expect(encodeRegister(Reg.ST0, 5)).toBe('05000000000000000000');
    expect(decodeRegister(Uint8Array.of(0x78, 0x56, 0x34, 0x12))).toBe(0x12345678);
    expect(decodeRegister(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toBe(0xffffffff);
    expect(decodeRegister(new Uint8Array(10))).toEqual(new Uint8Array(10));
  });
});

describe('target.xml', () => {
  const xml = targetXml();

  it('declares i386, no OS ABI, the standard core feature and ours', () => {
    expect(xml).toMatch(/^<\?xml version="1.0"\?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">/);
    expect(xml).toContain('<architecture>i386</architecture>');
    expect(xml).toContain('<osabi>none</osabi>');
    expect(xml).toContain('<feature name="org.gnu.gdb.i386.core">');
    expect(xml).toContain('<feature name="org.xenkit.i386.system">');
  });

  it('lists every register once, at its number, with its size', () => {
    const regs = [...xml.matchAll(/<reg name="([^"]+)" bitsize="(\d+)" type="([^"]+)" regnum="(\d+)"/g)];
    expect(regs.map((m) => [m[1], Number(m[2]), Number(m[4])])).toEqual(REGISTERS.map((r, n) => [r.name, r.bitsize, n]));
  });

  it('declares the flag types it uses, and its tags balance', () => {
    for (const id of ['i386_eflags', 'xenkit_cr0', 'xenkit_cr4']) expect(xml).toContain(`<flags id="${id}" size="4">`);
    const count = (re: RegExp): number => xml.match(re)?.length ?? 0;
    expect(count(/<feature /g)).toBe(count(/<\/feature>/g));
    expect(count(/<flags /g)).toBe(count(/<\/flags>/g));
    expect(count(/<target /g)).toBe(count(/<\/target>/g));
  });
});
