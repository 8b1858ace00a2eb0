/**
 * The xenstore trace (src/vmm/devices/xenstore/trace.ts) over the real
 * server: every request a connection makes is heard with its reply —
 * values, errno names, directory listings, transactions, xenbus state
 * names — and every watch event as it is taken for delivery; odd bytes
 * are escaped and long strings cut.
 */
import { describe, expect, it } from 'vitest';
import { XenstoreServer, formatXsTrace, type XsTraceRecord } from '../../src/vmm/devices/xenstore/index.js';
import { XS } from '../../src/vmm/xen/abi/xs-wire.js';

const enc = new TextEncoder();
const z = (...parts: string[]): Uint8Array => enc.encode(parts.map((p) => `${p}\0`).join(''));

function rig(): { s: XenstoreServer; lines: string[]; req(type: number, payload: Uint8Array, tx?: number): void; conn: ReturnType<XenstoreServer['connect']> } {
  const s = new XenstoreServer();
  const lines: string[] = [];
  s.onTrace = (r: XsTraceRecord) => lines.push(formatXsTrace(r));
  const conn = s.connect(1, { privileged: true });
  let id = 1;
  return { s, lines, conn, req: (type, payload, tx = 0) => { s.handle(conn, { type, req_id: id++, tx_id: tx, len: payload.length }, payload); } };
}

describe('xenstore trace', () => {
  it('requests with their replies, transactions, state names, errors, events', () => {
    const { s, lines, req, conn } = rig();
    req(XS.WRITE, enc.encode('/a/b/state\x004'));
    req(XS.READ, z('/a/b/state'));
    req(XS.READ, z('/a/nope'));
    req(XS.DIRECTORY, z('/a/b'));
    req(XS.TRANSACTION_START, z(''));
    req(XS.WRITE, enc.encode('/a/b/x\x00hi "there"\n'), 1);
    req(XS.TRANSACTION_END, z('T'), 1);
    req(XS.WATCH, z('/a/b', 'tok'));
    expect(s.takeEvent(conn)).toBeDefined();
    expect(lines).toEqual([
      '[xs] dom1 WRITE "/a/b/state" "4" (Connected) = OK',
      '[xs] dom1 READ "/a/b/state" = "4" (Connected)',
      '[xs] dom1 READ "/a/nope" = ENOENT',
      '[xs] dom1 DIRECTORY "/a/b" = ["state"]',
      '[xs] dom1 TRANSACTION_START = tx 1',
      '[xs] dom1 tx 1 WRITE "/a/b/x" "hi \\"there\\"\\x0a" = OK',
      '[xs] dom1 tx 1 TRANSACTION_END "T" = OK',
      '[xs] dom1 WATCH "/a/b" "tok" = OK',
      '[xs] dom1 <- WATCH_EVENT "/a/b" "tok"',
    ]);
  });

  it('cuts long strings and long listings; unknown types and closed connections', () => {
    const { lines, req, s, conn } = rig();
    for (let i = 0; i < 12; i++) req(XS.WRITE, enc.encode(`/d/n${i}\x00v`));
    req(XS.DIRECTORY, z('/d'));
    req(XS.WRITE, enc.encode(`/long\x00${'x'.repeat(200)}`));
    req(99, z('/x'));
    s.disconnect(conn);
    req(XS.READ, z('/d/n1'));
    expect(lines[12]).toBe('[xs] dom1 DIRECTORY "/d" = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", … 4 more]');
    expect(lines[13]).toBe(`[xs] dom1 WRITE "/long" "${'x'.repeat(80)}"… = OK`);
    expect(lines[14]).toBe('[xs] dom1 type 99 "/x" = ENOSYS');
    expect(lines[15]).toBe('[xs] dom1 READ "/d/n1" = (connection closed)');
  });
});
