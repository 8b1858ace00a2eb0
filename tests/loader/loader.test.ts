/**
 * Loader: ELF parsing, Xen notes, symbols, guest-type planning, and the
 * promise that any malformed input yields a one-line LoaderError — never a
 * JavaScript exception of another kind (mutation tests over a real fixture).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { LoaderError } from '../../src/loader/errors.js';
import { parseElf } from '../../src/loader/elf.js';

const FIXTURE = new URL('../fixtures/loader/pv-min.elf', import.meta.url);
const pvMin = new Uint8Array(readFileSync(FIXTURE));

function patched(edit: (b: Uint8Array, dv: DataView) => void): Uint8Array {
  const b = pvMin.slice();
  edit(b, new DataView(b.buffer));
  return b;
}

function loaderError(f: () => unknown): LoaderError {
  try {
    f();
  } catch (e) {
    if (e instanceof LoaderError) return e;
    throw new Error(`expected a LoaderError, got ${String(e)}`);
  }
  throw new Error('expected a LoaderError, got success');
}

/** Offset of the descriptor of the first Xen note of `type` in the file. */
function noteDesc(type: number): number {
  const b = Buffer.from(pvMin);
  const x = b.indexOf(Buffer.from('Xen\0'));
  let off = x - 12;
  for (;;) {
    const namesz = b.readUInt32LE(off), descsz = b.readUInt32LE(off + 4), t = b.readUInt32LE(off + 8);
    if (t === type) return off + 12 + ((namesz + 3) & ~3);
    off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
  }
}

describe('loader: a valid PV kernel', () => {
  const k = inspectKernel(pvMin, 'pv-min.elf');
  it('reads the Xen notes from PT_NOTE', () => {
    expect(k.type).toBe('pv');
    expect(k.notes.source).toBe('PT_NOTE');
    expect(k.notes.guestOs).toBe('xenkit-test');
    expect(k.notes.loader).toBe('generic');
    expect(k.notes.xenVersion).toBe('xen-3.0');
    expect(k.notes.paeMode).toBe('yes');
    expect(k.entry).toBe(0x100000);
    expect(k.hypercallPage).toBe(k.symbols.address('hypercall_page'));
  });
  it('plans the load at p_paddr + VIRT_BASE - PADDR_OFFSET', () => {
    expect(k.kstart).toBe(0x100000);
    expect(k.kend).toBe(0x103000);
    expect(k.chunks.map((c) => c.dest)).toEqual([0x100000, 0x101000]);
  });
  it('symbolizes addresses', () => {
    expect(k.symbols.format(0x100000)).toBe('_start');
    expect(k.symbols.format(0x100005)).toBe('_start+0x5');
    expect(k.symbols.address('hypercall_page')).toBe(0x102000);
  });
  it('falls back to SHT_NOTE sections when there is no PT_NOTE', () => {
    const b = patched((_b, dv) => {
      const phoff = dv.getUint32(28, true);
      for (let i = 0; i < dv.getUint16(44, true); i++) {
        if (dv.getUint32(phoff + i * 32, true) === 4) dv.setUint32(phoff + i * 32, 6 /* PT_PHDR: ignored */, true);
      }
    });
    const k2 = inspectKernel(b, 'x.elf');
    expect(k2.notes.source).toBe('SHT_NOTE');
    expect(k2.notes.loader).toBe('generic');
  });
});

describe('loader: one-line errors', () => {
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['not an ELF', new TextEncoder().encode('#!/bin/sh\necho hi\n'), 'ENOTELF', /not an ELF file/],
    ['empty file', new Uint8Array(0), 'ENOTELF', /not an ELF/],
    ['64-bit', patched((b) => { b[4] = 2; }), 'EELFCLASS', /not a 32-bit ELF/],
    ['big-endian', patched((b) => { b[5] = 2; }), 'EELFCLASS', /little-endian/],
    ['not x86', patched((_b, dv) => { dv.setUint16(18, 40, true); }), 'EELFCLASS', /not an x86/],
    ['relocatable', patched((_b, dv) => { dv.setUint16(16, 1, true); }), 'EELFTYPE', /not an executable/],
    ['truncated header', pvMin.slice(0, 40), 'EELFTRUNC', /truncated ELF header/],
    ['program headers past EOF', patched((_b, dv) => { dv.setUint32(28, pvMin.length - 8, true); }), 'EELFTRUNC', /program headers/],
    ['segment outside the file', patched((_b, dv) => { dv.setUint32(52 + 16, 0x100000, true); dv.setUint32(52 + 20, 0x100000, true); }), 'EELFTRUNC', /outside the file/],
    ['filesz > memsz', patched((_b, dv) => { dv.setUint32(52 + 20, 1, true); }), 'EELFTRUNC', /filesz/],
    ['overlapping segments', patched((_b, dv) => { dv.setUint32(52 + 32 + 12, 0x100010, true); }), 'EOVERLAP', /overlap/],
    ['no loadable segment', patched((_b, dv) => { dv.setUint32(52, 6, true); dv.setUint32(52 + 32, 6, true); }), 'ENOLOAD', /no loadable/],
    ['entry outside code', patched((_b, dv) => { dv.setUint32(noteDesc(1), 0x200000, true); }), 'ELAYOUT', /entry point 0x200000/],
    ['wrong LOADER', patched((b) => { b[noteDesc(8)] = 0x47; }), 'ENOTES', /LOADER is "Generic"/],
    ['wrong XEN_VERSION', patched((b) => { b[noteDesc(5) + 4] = 0x34; }), 'ENOTES', /XEN_VERSION is "xen-4.0"/],
    ['non-PAE', patched((b) => { b.set([0x6e, 0x6f, 0], noteDesc(9)); }), 'ENOTES', /PAE_MODE is "no"/],
    ['truncated note', patched((_b, dv) => { dv.setUint32(noteDesc(2) - 12, 0x400, true); }), 'ENOTES', /truncated note/],
    ['hypercall page outside the image', patched((_b, dv) => { dv.setUint32(noteDesc(2), 0x300000, true); }), 'ENOTES', /HYPERCALL_PAGE/],
    ['kernel in the Xen hole', patched((_b, dv) => {
      dv.setUint32(noteDesc(3), 0xf5700000, true); dv.setUint32(noteDesc(1), 0xf5800000, true); dv.setUint32(noteDesc(2), 0xf5802000, true);
    }), 'ELAYOUT', /Xen hole/],
  ];
  for (const [what, bytes, code, msg] of cases) {
    it(`${what} → ${code}`, () => {
      const e = loaderError(() => inspectKernel(bytes, 'k.elf'));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
      expect(e.message.startsWith('k.elf: ')).toBe(true);
      expect(e.message).not.toContain('\n');
    });
  }
  it('asks for PVH notes when asked to boot PVH', () => {
    const e = loaderError(() => inspectKernel(pvMin, 'k.elf', 'pvh'));
    expect(e.message).toMatch(/PHYS32_ENTRY/);
  });
});

describe('loader: mutation fuzz', () => {
  it('every single-byte mutation of the headers and notes gives success or a LoaderError', () => {
    // Mutate each byte of the ELF header, program headers and note segment to several values.
    const notes = parseElf(pvMin, 'x').segments.find((s) => s.type === 4)!;
    const offsets: number[] = [];
    for (let i = 0; i < 52 + 3 * 32; i++) offsets.push(i);
    for (let i = 0; i < notes.filesz; i++) offsets.push(notes.offset + i);
    let errors = 0, ok = 0;
    for (const off of offsets) {
      for (const v of [0x00, 0xff, pvMin[off]! ^ 0x01, pvMin[off]! ^ 0x80]) {
        const b = pvMin.slice();
        b[off] = v;
        try {
          inspectKernel(b, 'm.elf');
          ok++;
        } catch (e) {
          if (!(e instanceof LoaderError)) throw new Error(`byte ${off} = ${v}: ${String(e)}`);
          expect(e.message).not.toContain('\n');
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
    expect(ok).toBeGreaterThan(0);
  });
  it('every truncation gives success or a LoaderError', () => {
    for (let len = 0; len < pvMin.length; len += len < 600 ? 1 : 97) {
      try {
        inspectKernel(pvMin.slice(0, len), 't.elf');
      } catch (e) {
        if (!(e instanceof LoaderError)) throw new Error(`length ${len}: ${String(e)}`);
      }
    }
  });
  it('random multi-byte garbage never escapes as another exception', () => {
    let seed = 12345;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
    for (let n = 0; n < 3000; n++) {
      const b = pvMin.slice();
      const k = 1 + (rnd() % 8);
      for (let j = 0; j < k; j++) b[rnd() % 600] = rnd() & 0xff;
      try {
        inspectKernel(b, 'r.elf');
      } catch (e) {
        if (!(e instanceof LoaderError)) throw new Error(`iteration ${n}: ${String(e)}`);
      }
    }
  });
});
