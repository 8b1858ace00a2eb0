/**
 * The pure blkif request parser (src/vmm/devices/block/request.ts): every
 * operation in the x86_32 layout, every way a request can be invalid, and
 * the response encoding. Indirect pages come from a fake grant reader.
 */
import { describe, expect, it } from 'vitest';
import { BLKIF_RSP } from '../../../src/vmm/xen/abi/blkif.js';
import {
  DEFAULT_MAX_INDIRECT_SEGMENTS, decodeResponse, encodeResponse, parseRequest, type ParseOptions,
} from '../../../src/vmm/devices/block/request.js';
import { OP, discardReq, indirectReq, rw, segmentPage, type Seg } from './helpers.js';

const OK = BLKIF_RSP.OKAY, ERR = BLKIF_RSP.ERROR, NOTSUPP = BLKIF_RSP.EOPNOTSUPP;
const ID = 0x1122_3344_5566_7788n;

function opts(o: Partial<ParseOptions> & { pages?: Map<number, Uint8Array> } = {}): ParseOptions {
  const pages = o.pages ?? new Map();
  return {
    diskSectors: 1000,
    readonly: false,
    discard: true,
    maxIndirectSegments: DEFAULT_MAX_INDIRECT_SEGMENTS,
    readIndirect: (g, off, len) => {
      const p = pages.get(g);
      return p === undefined || off + len > 4096 ? null : p.slice(off, off + len);
    },
    ...o,
  };
}

function reject(bytes: Uint8Array, o = opts()) {
  const r = parseRequest(bytes, o);
  if (r.kind !== 'reject') throw new Error(`expected a reject, got ${r.kind}`);
  return r;
}

describe('parseRequest: valid requests', () => {
  it('READ with segments, in the x86_32 layout (id @4, sector @12)', () => {
    const r = parseRequest(rw(OP.READ, ID, 10, [{ gref: 8, first: 1, last: 7 }, { gref: 9, first: 0, last: 3 }]), opts());
    expect(r).toEqual({
      kind: 'read', id: ID, operation: OP.READ, sector: 10, sectors: 11, indirect: false,
      segments: [{ gref: 8, firstSect: 1, lastSect: 7 }, { gref: 9, firstSect: 0, lastSect: 3 }],
    });
  });

  it('WRITE with the maximum 11 segments up to the last sector', () => {
    const segs: Seg[] = Array.from({ length: 11 }, (_, i) => ({ gref: 20 + i }));
    const r = parseRequest(rw(OP.WRITE, ID, 1000 - 88, segs), opts());
    expect(r).toMatchObject({ kind: 'write', sector: 912, sectors: 88 });
  });

  it('FLUSH_DISKCACHE and WRITE_BARRIER without data ignore sector_number', () => {
    expect(parseRequest(rw(OP.FLUSH_DISKCACHE, ID, 0xffff_ffff_ffffn), opts())).toMatchObject({ kind: 'flush', sectors: 0, sector: 0 });
    expect(parseRequest(rw(OP.WRITE_BARRIER, 7n, 0), opts())).toMatchObject({ kind: 'barrier', id: 7n, sectors: 0 });
  });

  it('FLUSH and BARRIER may carry data (a FUA write)', () => {
    expect(parseRequest(rw(OP.FLUSH_DISKCACHE, ID, 5, [{ gref: 3 }]), opts())).toMatchObject({ kind: 'flush', sector: 5, sectors: 8 });
    expect(parseRequest(rw(OP.WRITE_BARRIER, ID, 5, [{ gref: 3 }]), opts())).toMatchObject({ kind: 'barrier', sectors: 8 });
  });

  it('DISCARD', () => {
    expect(parseRequest(discardReq(ID, 100, 900), opts())).toEqual({ kind: 'discard', id: ID, operation: OP.DISCARD, sector: 100, nrSectors: 900 });
    expect(parseRequest(discardReq(ID, 1000, 0), opts())).toMatchObject({ kind: 'discard', nrSectors: 0 });
  });

  it('INDIRECT READ and WRITE over several indirect pages', () => {
    const segs: Seg[] = Array.from({ length: 600 }, (_, i) => ({ gref: 1000 + i, first: 0, last: 0 }));
    const pages = new Map([[50, segmentPage(segs.slice(0, 512))], [51, segmentPage(segs.slice(512))]]);
    const r = parseRequest(indirectReq(OP.WRITE, ID, 3, 600, [50, 51]), opts({ pages, maxIndirectSegments: 1024 }));
    expect(r).toMatchObject({ kind: 'write', operation: OP.WRITE, indirect: true, sector: 3, sectors: 600 });
    if (r.kind !== 'write') throw new Error();
    expect(r.segments[599]).toEqual({ gref: 1599, firstSect: 0, lastSect: 0 });
    const rd = parseRequest(indirectReq(OP.READ, ID, 0, 2, [50]), opts({ pages }));
    expect(rd).toMatchObject({ kind: 'read', operation: OP.READ, sectors: 2, indirect: true });
  });

  it('reads the indirect page once and parses from its copy', () => {
    const page = segmentPage([{ gref: 7 }]);
    let calls = 0;
    const r = parseRequest(indirectReq(OP.READ, ID, 0, 1, [50]), opts({
      readIndirect: (_g, off, len) => {
        calls++;
        const copy = page.slice(off, off + len);
        page.fill(0xff); // the guest changes it right after
        return copy;
      },
    }));
    expect(calls).toBe(1);
    expect(r).toMatchObject({ kind: 'read', segments: [{ gref: 7, firstSect: 0, lastSect: 7 }] });
  });

  it('a read-only disk still reads, and answers empty flushes and barriers', () => {
    const ro = opts({ readonly: true });
    expect(parseRequest(rw(OP.READ, ID, 0, [{ gref: 1 }]), ro)).toMatchObject({ kind: 'read' });
    expect(parseRequest(rw(OP.FLUSH_DISKCACHE, ID, 0), ro)).toMatchObject({ kind: 'flush' });
    expect(parseRequest(rw(OP.WRITE_BARRIER, ID, 0), ro)).toMatchObject({ kind: 'barrier' });
  });

  it('short input reads as zeros', () => {
    expect(parseRequest(new Uint8Array(3), opts())).toMatchObject({ kind: 'reject', id: 0n, status: ERR });
  });
});

describe('parseRequest: invalid requests', () => {
  it('READ / WRITE without segments', () => {
    expect(reject(rw(OP.READ, ID, 0))).toMatchObject({ id: ID, operation: OP.READ, status: ERR });
    expect(reject(rw(OP.WRITE, ID, 0))).toMatchObject({ operation: OP.WRITE, status: ERR });
  });

  it('more than 11 direct segments', () => {
    for (const op of [OP.READ, OP.WRITE, OP.FLUSH_DISKCACHE, OP.WRITE_BARRIER]) {
      expect(reject(rw(op, ID, 0, [{ gref: 1 }], 12))).toMatchObject({ operation: op, status: ERR, reason: expect.stringMatching(/12 segments/) });
      expect(reject(rw(op, ID, 0, [{ gref: 1 }], 255)).status).toBe(ERR);
    }
  });

  it('first_sect > last_sect, and last_sect > 7', () => {
    expect(reject(rw(OP.READ, ID, 0, [{ gref: 1, first: 4, last: 3 }])).reason).toMatch(/segment 0/);
    expect(reject(rw(OP.WRITE, ID, 0, [{ gref: 1 }, { gref: 2, first: 0, last: 8 }])).reason).toMatch(/segment 1/);
    expect(reject(rw(OP.WRITE_BARRIER, ID, 0, [{ gref: 1, first: 255, last: 255 }])).status).toBe(ERR);
  });

  it('sector ranges outside the disk, without overflow', () => {
    expect(reject(rw(OP.READ, ID, 993, [{ gref: 1 }])).reason).toMatch(/beyond/);
    expect(parseRequest(rw(OP.READ, ID, 992, [{ gref: 1 }]), opts()).kind).toBe('read');
    expect(reject(rw(OP.READ, ID, 0xffff_ffff_ffff_fffcn, [{ gref: 1 }])).status).toBe(ERR);
    expect(reject(rw(OP.FLUSH_DISKCACHE, ID, 1000, [{ gref: 1, last: 0 }])).status).toBe(ERR);
    expect(reject(discardReq(ID, 1, 1000)).status).toBe(ERR);
    expect(reject(discardReq(ID, 0xffff_ffff_ffff_ffffn, 2)).status).toBe(ERR);
    expect(reject(discardReq(ID, 2, 0xffff_ffff_ffff_ffffn)).status).toBe(ERR);
    // An empty disk accepts nothing that transfers data.
    expect(reject(rw(OP.READ, ID, 0, [{ gref: 1, last: 0 }]), opts({ diskSectors: 0 })).status).toBe(ERR);
  });

  it('a read-only disk refuses writes, data-carrying flushes and barriers, and discards', () => {
    const ro = opts({ readonly: true });
    expect(reject(rw(OP.WRITE, ID, 0, [{ gref: 1 }]), ro)).toMatchObject({ status: ERR, reason: expect.stringMatching(/read-only/) });
    expect(reject(rw(OP.FLUSH_DISKCACHE, ID, 0, [{ gref: 1 }]), ro).status).toBe(ERR);
    expect(reject(rw(OP.WRITE_BARRIER, ID, 0, [{ gref: 1 }]), ro).status).toBe(ERR);
    expect(reject(discardReq(ID, 0, 8), opts({ readonly: true, discard: true })).status).toBe(ERR);
    expect(reject(indirectReq(OP.WRITE, ID, 0, 1, [50]), opts({ readonly: true, pages: new Map([[50, segmentPage([{ gref: 1 }])]]) })).status).toBe(ERR);
  });

  it('DISCARD not offered, or secure → EOPNOTSUPP', () => {
    expect(reject(discardReq(ID, 0, 8), opts({ discard: false }))).toMatchObject({ operation: OP.DISCARD, status: NOTSUPP });
    expect(reject(discardReq(ID, 0, 8, 1))).toMatchObject({ status: NOTSUPP, reason: expect.stringMatching(/secure/) });
    // Other flag bits are ignored.
    expect(parseRequest(discardReq(ID, 0, 8, 2), opts()).kind).toBe('discard');
  });

  it('unknown and reserved operations → EOPNOTSUPP with the op echoed', () => {
    for (const op of [4, 7, 8, 0x80, 0xff]) expect(reject(rw(op, ID, 0))).toMatchObject({ id: ID, operation: op, status: NOTSUPP });
  });

  it('INDIRECT: not offered, bad indirect_op, segment counts, unreadable pages', () => {
    const pages = new Map([[50, segmentPage(Array.from({ length: 512 }, () => ({ gref: 9 })))]]);
    const o = opts({ pages });
    expect(reject(indirectReq(OP.READ, ID, 0, 1, [50]), opts({ pages, maxIndirectSegments: 0 })))
      .toMatchObject({ operation: OP.READ, status: NOTSUPP });
    for (const iop of [OP.FLUSH_DISKCACHE, OP.WRITE_BARRIER, OP.DISCARD, OP.INDIRECT, 99]) {
      expect(reject(indirectReq(iop, ID, 0, 1, [50]), o)).toMatchObject({ operation: iop, status: ERR });
    }
    expect(reject(indirectReq(OP.READ, ID, 0, 0, [50]), o).reason).toMatch(/0 indirect segments/);
    expect(reject(indirectReq(OP.READ, ID, 0, 257, [50]), o).reason).toMatch(/257 indirect segments \(1\.\.256\)/);
    expect(reject(indirectReq(OP.READ, ID, 0, 0xffff, [50]), opts({ pages, maxIndirectSegments: 100000 })).reason).toMatch(/1\.\.4096/);
    expect(reject(indirectReq(OP.READ, ID, 0, 4, [51]), o)).toMatchObject({ operation: OP.READ, status: ERR, reason: expect.stringMatching(/gref 51/) });
    // The second page is missing.
    expect(reject(indirectReq(OP.READ, ID, 0, 513, [50, 52]), opts({ pages, maxIndirectSegments: 1024 })).reason).toMatch(/page 1/);
    // A reader returning too few bytes.
    expect(reject(indirectReq(OP.READ, ID, 0, 2, [50]), opts({ readIndirect: () => new Uint8Array(8) })).status).toBe(ERR);
  });

  it('INDIRECT: bad segments inside the page and ranges beyond the disk', () => {
    const pages = new Map([[50, segmentPage([{ gref: 1 }, { gref: 2, first: 5, last: 2 }])], [60, segmentPage([{ gref: 1 }, { gref: 1 }])]]);
    expect(reject(indirectReq(OP.READ, ID, 0, 2, [50]), opts({ pages })).reason).toMatch(/segment 1/);
    expect(reject(indirectReq(OP.WRITE, ID, 985, 2, [60]), opts({ pages })).reason).toMatch(/beyond/);
  });
});

describe('responses', () => {
  it('encode id @0, operation @8, status @10 in 12 bytes', () => {
    const b = encodeResponse(ID, OP.WRITE, ERR);
    expect(b).toHaveLength(12);
    expect(Array.from(b)).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 1, 0, 0xff, 0xff]);
    expect(decodeResponse(b)).toEqual({ id: ID, operation: OP.WRITE, status: ERR });
    expect(decodeResponse(encodeResponse(0xffff_ffff_ffff_ffffn, OP.DISCARD, NOTSUPP))).toEqual({ id: 0xffff_ffff_ffff_ffffn, operation: OP.DISCARD, status: NOTSUPP });
    expect(decodeResponse(encodeResponse(1n, 0, OK)).status).toBe(0);
  });
});
