/**
 * Layer 3, the session, driven packet by packet against the fake target:
 * acks and no-ack mode, qSupported from capabilities, registers, memory
 * (unmapped → error, never a throw), breakpoints and their bookkeeping,
 * resume commands, every kind of stop reply, Ctrl-C, emulated and native
 * range stepping, threads, qXfer paging, monitor output, detach / kill /
 * disconnect, and a target that throws.
 */
import { describe, expect, it } from 'vitest';
import { REGISTERS, Reg, Signal, targetXml, type ResumeAction, type ThreadId } from '../../src/gdbstub/index.js';
import { TestClient, consoleText } from './client.js';
import { FakeTarget, type FakeOptions } from './fake-target.js';

/** Little-endian hex of a 32-bit value, as in g/p replies. */
function le(v: number): string {
  return [0, 8, 16, 24].map((s) => ((v >>> s) & 0xff).toString(16).padStart(2, '0')).join('');
}

function hexText(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

/** The stop reply tail for thread 1 of a fresh fake (ebp 0, esp 0x7000) at `eip`. */
function regsAt(eip: number, esp = 0x7000): string {
  return `05:${le(0)};04:${le(esp)};08:${le(eip)};`;
}

function connect(opts: FakeOptions = {}, sopts = {}): { t: FakeTarget; c: TestClient } {
  const t = new FakeTarget(opts);
  const c = new TestClient(t, sopts);
  c.ask('qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+');
  return { t, c };
}

/** Wait (bounded) until the client has a packet to read. */
async function nextPackets(c: TestClient, ms = 2000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const p = c.packets();
    if (p.length > 0) return p;
    if (Date.now() > end) throw new Error('no reply in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('acknowledgements', () => {
  it('acks every good packet before its reply, nacks a bad checksum', () => {
    const t = new FakeTarget();
    const c = new TestClient(t);
    c.send('qC');
    expect(c.out()).toEqual([{ type: '+' }, { type: 'packet', payload: 'QC1' }]);
    c.raw('$qC#00');
    expect(c.out()).toEqual([{ type: '-' }]);
  });

  it('QStartNoAckMode: OK (acked), then no acks, bad packets dropped silently', () => {
    const c = new TestClient(new FakeTarget());
    c.send('QStartNoAckMode');
    expect(c.out()).toEqual([{ type: '+' }, { type: 'packet', payload: 'OK' }]);
    c.raw('+'); // gdb acks the OK
    c.send('qC');
    expect(c.out()).toEqual([{ type: 'packet', payload: 'QC1' }]);
    c.raw('$qC#00');
    expect(c.out()).toEqual([]);
  });

  it('resends the last reply when gdb nacks it', () => {
    const c = new TestClient(new FakeTarget());
    c.send('qC');
    c.out();
    c.raw('-');
    expect(c.out()).toEqual([{ type: 'packet', payload: 'QC1' }]);
  });

  it('run-length encodes replies unless told not to', () => {
    const a = connect();
    a.c.ask('g');
    expect(a.c.transcript).toMatch(/\*/);
    const b = connect({}, { rle: false });
    const regs = b.c.ask('g');
    expect(b.c.transcript).not.toMatch(/\*/);
    expect(regs).toBe(a.c.ask('g'));
  });
});

describe('qSupported and the simple queries', () => {
  it('announces what the target can do', () => {
    const { c } = connect();
    expect(c.ask('qSupported:swbreak+;hwbreak+')).toBe(
      'PacketSize=4000;qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+');
    const n = connect({ capabilities: { swBreakpoints: false, hwBreakpoints: false, watchpoints: false } }, { maxPacket: 0x1000 });
    expect(n.c.ask('qSupported')).toBe('PacketSize=1000;qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+;vContSupported+');
    for (const z of ['Z0,1000,1', 'Z1,1000,1', 'Z2,2000,4', 'Z3,2000,4', 'Z4,2000,4', 'z0,1000,1']) expect(n.c.ask(z)).toBe('');
    expect(n.t.calls.filter((x) => x.startsWith('Z'))).toEqual([]);
  });

  it('answers the fixed queries and leaves unknown ones empty', () => {
    const { c } = connect();
    expect(c.ask('qAttached')).toBe('1');
    expect(c.ask('qAttached:1')).toBe('1');
    expect(c.ask('qOffsets')).toBe('Text=0;Data=0;Bss=0');
    expect(c.ask('qSymbol::')).toBe('OK');
    expect(c.ask('vCont?')).toBe('vCont;c;C;s;S;r');
    for (const p of ['vMustReplyEmpty', 'qTStatus', 'qCRC:0,10', '!', 'vKill;1', 'QNonStop:1']) expect(c.ask(p)).toBe('');
    expect(c.ask('m1000')).toBe('E16');
  });
});

describe('halt reason', () => {
  it('? reports the stop the target made on attach', () => {
    const { t, c } = connect();
    expect(t.calls[0]).toBe('attach');
    expect(c.ask('?')).toBe(`T05thread:1;${regsAt(0x800)}`);
    expect(c.session.state).toBe('stopped');
  });

  it('? before the first stop is answered when the stop comes', () => {
    const { t, c } = connect({ attach: 'later' });
    expect(c.session.state).toBe('attaching');
    c.send('?');
    expect(c.packets()).toEqual([]);
    t.listener!.stopped({ kind: 'interrupt', thread: 1 });
    expect(c.packets()).toEqual([`T02thread:1;${regsAt(0x800)}`]);
  });

  it('a stop reported while gdb thinks the target is stopped sends nothing but updates ?', () => {
    const { t, c } = connect();
    t.listener!.stopped({ kind: 'signal', thread: 1, signal: Signal.SEGV });
    expect(c.packets()).toEqual([]);
    expect(c.ask('?')).toBe(`T0bthread:1;${regsAt(0x800)}`);
  });
});

describe('registers', () => {
  it('g sends every register of target.xml, unavailable ones as xx', () => {
    const { c } = connect();
    const g = c.ask('g');
    const sizes = REGISTERS.map((r) => r.bitsize / 4);
    expect(g.length).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(g.slice(0, 8)).toBe(le(0x11111111));
    expect(g.slice(8 * 8, 9 * 8)).toBe(le(0x800));
    const x87 = g.slice(16 * 8, 16 * 8 + 8 * 20 + 8 * 8);
    expect(x87).toBe('x'.repeat(x87.length));
    expect(g.slice(-7 * 8, -6 * 8)).toBe(le(0x80050033)); // cr0
  });

  it('p and P, including refusals', () => {
    const { t, c } = connect();
    expect(c.ask('p8')).toBe(le(0x800));
    expect(c.ask('p10')).toBe('xx'.repeat(10)); // st0
    expect(c.ask(`p${Reg.CR3.toString(16)}`)).toBe(le(0x3000));
    expect(c.ask(`p${REGISTERS.length.toString(16)}`)).toBe('E16');
    expect(c.ask('P8=00100000')).toBe('OK');
    expect(t.regs[0]![Reg.EIP]).toBe(0x1000);
    expect(c.ask('P8=0010')).toBe('E16');
    expect(c.ask(`P${Reg.CPL.toString(16)}=00000000`)).toBe('E01'); // read-only in the fake
    expect(c.ask('P99=00000000')).toBe('E16');
  });

  it('G writes only the registers that changed, and skips xx', () => {
    const { t, c } = connect();
    const g = c.ask('g');
    const changed = le(0xdeadbeef) + g.slice(8);
    t.calls.length = 0;
    expect(c.ask(`G${changed}`)).toBe('OK');
    expect(t.calls).toEqual(['P0']);
    expect(t.regs[0]![Reg.EAX]).toBe(0xdeadbeef);
    expect(c.ask('G0011')).toBe('E16'); // ends inside a register
  });
});

describe('memory', () => {
  it('reads, partial reads at a hole, unmapped → E0e, huge lengths capped', () => {
    const { t, c } = connect();
    t.mem.set([1, 2, 3, 4], 0x2000);
    t.mem.set([0xaa, 0xbb], 0x7ffe);
    expect(c.ask('m2000,4')).toBe('01020304');
    expect(c.ask('m7ffe,4')).toBe('aabb');
    expect(c.ask('m8000,4')).toBe('E0e');
    expect(c.ask('m10000,4')).toBe('E0e');
    expect(c.ask('mffffffff,10')).toBe('E0e');
    expect(c.ask('m0,ffffffff').length).toBe(2 * 0x4000);
    expect(c.ask('m2000,0')).toBe('E16');
  });

  it('writes with M and X (binary, escaped), refuses unmapped and wrapping writes', () => {
    const { t, c } = connect();
    expect(c.ask('M2000,2:abcd')).toBe('OK');
    expect([...t.mem.subarray(0x2000, 0x2002)]).toEqual([0xab, 0xcd]);
    expect(c.ask('X2100,0:')).toBe('OK');
    expect(c.ask('X2100,6:#$}*\x03\xff')).toBe('OK');
    expect([...t.mem.subarray(0x2100, 0x2106)]).toEqual([0x23, 0x24, 0x7d, 0x2a, 0x03, 0xff]);
    expect(c.ask('M8000,1:00')).toBe('E0e');
    expect(c.ask('X7fff,2:ab')).toBe('E0e');
    expect(c.ask('Mffffffff,2:0000')).toBe('E0e');
    expect(c.ask('M2000,3:abcd')).toBe('E16');
  });
});

describe('breakpoints and watchpoints', () => {
  it('inserts once, removes once, answers duplicates itself', () => {
    const { t, c } = connect();
    expect(c.ask('Z0,1000,1')).toBe('OK');
    expect(c.ask('Z0,1000,1')).toBe('OK');
    expect(c.ask('Z2,2000,4')).toBe('OK');
    expect(c.session.breakpoints).toEqual(['sw@1000/1', 'write@2000/4']);
    expect(c.ask('z0,1000,1')).toBe('OK');
    expect(c.ask('z0,1000,1')).toBe('OK');
    expect(t.calls.filter((x) => /^[Zz] /.test(x))).toEqual(['Z sw 1000 1', 'Z write 2000 4', 'z sw 1000 1']);
    expect(c.errors).toEqual([]);
  });

  it('reports a refused insertion as an error and does not remember it', () => {
    const { t, c } = connect();
    t.addBreakpoint = () => false;
    expect(c.ask('Z1,1000,1')).toBe('E01');
    expect(c.session.breakpoints).toEqual([]);
  });

  it('continue to a software breakpoint: swbreak only when gdb asked for it', () => {
    const { c } = connect();
    c.ask('Z0,1000,1');
    expect(c.ask('c')).toBe(`T05swbreak:;thread:1;${regsAt(0x1000)}`);
    const old = new TestClient(new FakeTarget());
    old.ask('qSupported'); // a gdb that did not ask for swbreak
    old.ask('Z0,1000,1');
    expect(old.ask('c')).toBe(`T05thread:1;${regsAt(0x1000)}`);
  });

  it('hardware breakpoint: hwbreak', () => {
    const { c } = connect();
    c.ask('Z1,900,1');
    expect(c.ask('vCont;c')).toBe(`T05hwbreak:;thread:1;${regsAt(0x900)}`);
  });

  it('watchpoints report watch / rwatch / awatch with the watchpoint address', () => {
    const { t, c } = connect();
    t.effects.set(0x810, { op: 'store', addr: 0x2000, size: 4, value: 1 });
    t.effects.set(0x820, { op: 'load', addr: 0x3000, size: 2 });
    t.effects.set(0x830, { op: 'store', addr: 0x4000, size: 1, value: 1 });
    c.ask('Z2,2003,1'); // one byte of a 4-byte store
    c.ask('Z3,3000,10');
    c.ask('Z4,3ffc,8');
    expect(c.ask('c')).toBe(`T05watch:2003;thread:1;${regsAt(0x811)}`);
    expect(c.ask('c')).toBe(`T05rwatch:3000;thread:1;${regsAt(0x821)}`);
    expect(c.ask('c')).toBe(`T05awatch:3ffc;thread:1;${regsAt(0x831)}`);
  });

  it('takes any number of watchpoints', () => {
    const { t, c } = connect();
    for (let i = 0; i < 64; i++) expect(c.ask(`Z2,${(0x2000 + i * 16).toString(16)},${(i + 1).toString(16)}`)).toBe('OK');
    t.effects.set(0x805, { op: 'store', addr: 0x2000 + 40 * 16 + 40, size: 1, value: 9 });
    expect(c.ask('c')).toBe(`T05watch:${(0x2000 + 40 * 16).toString(16)};thread:1;${regsAt(0x806)}`);
  });
});

describe('resuming', () => {
  it('s steps one instruction; s/c with an address set EIP first', () => {
    const { t, c } = connect();
    expect(c.ask('s')).toBe(`T05thread:1;${regsAt(0x801)}`);
    expect(c.ask('s1000')).toBe(`T05thread:1;${regsAt(0x1001)}`);
    c.ask('Z0,1010,1');
    expect(c.ask('c1008')).toBe(`T05swbreak:;thread:1;${regsAt(0x1010)}`);
    expect(t.calls.filter((x) => x.startsWith('resume'))).toEqual(['resume 1:step', 'resume 1:step', 'resume 1:continue']);
  });

  it('vCont gives each thread its leftmost matching action; unmatched threads stay stopped', () => {
    const { t, c } = connect({ threads: 3 });
    const seen: string[] = [];
    const orig = t.resume.bind(t);
    t.resume = (m: ReadonlyMap<ThreadId, ResumeAction>) => {
      seen.push([...m].map(([id, a]) => `${id}:${a.kind}${a.signal === undefined ? '' : `/${a.signal}`}`).join(','));
      orig(m);
    };
    c.ask('Z0,820,1'); // every continue ends soon
    for (const p of ['vCont;s:2;c', 'vCont;c:3', 'vCont;S05:1;C0b:2', 'vCont;c:0']) {
      c.send(p);
      expect(c.packets().at(-1)).toMatch(/^T05/);
    }
    expect(seen).toEqual(['1:continue,2:step,3:continue', '3:continue', '1:step/5,2:continue/11', '1:continue']);
    expect(c.ask('vCont;c:9')).toBe('E03');
  });

  it('legacy s steps the Hc thread only; c runs them all', () => {
    const { t, c } = connect({ threads: 2 });
    expect(c.ask('Hc2')).toBe('OK');
    c.ask('s');
    c.ask('Hc-1');
    c.ask('Z0,900,1');
    c.ask('c');
    expect(t.calls.filter((x) => x.startsWith('resume'))).toEqual(['resume 2:step', 'resume 1:continue,2:continue']);
  });

  it('a resume the target throws on is an error reply; the session stays stopped', () => {
    const { t, c } = connect();
    t.resume = () => { throw new Error('boom'); };
    expect(c.ask('c')).toBe('E01');
    expect(c.session.state).toBe('stopped');
    expect(c.errors).toHaveLength(1);
  });
});

describe('stop replies', () => {
  it('a crash: console message as O packets, then T0b', () => {
    const { t, c } = connect();
    t.effects.set(0x803, { op: 'crash' });
    c.send('c');
    const p = c.packets();
    expect(consoleText(p)).toBe('fake: guest crashed\n');
    expect(p[p.length - 1]).toBe(`T0bthread:1;${regsAt(0x803)}`);
  });

  it('poweroff: W with the status; the session is over but still answers', () => {
    const { t, c } = connect();
    t.effects.set(0x801, { op: 'poweroff', code: 3 });
    expect(c.ask('c')).toBe('W03');
    expect(c.session.state).toBe('exited');
    expect(c.ask('?')).toBe('W03');
    expect(c.ask('c')).toBe('E01');
  });

  it('terminated by a signal: X', async () => {
    const { t, c } = connect({ async: true, slice: 100 });
    t.effects.set(0x800, { op: 'loop' });
    c.send('c');
    await new Promise((r) => setTimeout(r, 5));
    t.stop({ kind: 'terminated', signal: Signal.KILL });
    expect(await nextPackets(c)).toEqual(['X09']);
  });

  it('watch mode: a reboot while running is a stop with a message; breakpoints stay', async () => {
    const { t, c } = connect({ async: true, slice: 100 });
    t.effects.set(0x800, { op: 'loop' });
    c.ask('Z0,1000,1');
    c.send('c');
    await new Promise((r) => setTimeout(r, 5));
    t.regs[0]![Reg.EIP] = 0x400;
    t.stop({ kind: 'signal', thread: 1, signal: Signal.TRAP, message: 'xenkit: rebooted into the rebuilt kernel\n' });
    const p = await nextPackets(c);
    expect(consoleText(p)).toBe('xenkit: rebooted into the rebuilt kernel\n');
    expect(p[p.length - 1]).toBe(`T05thread:1;${regsAt(0x400)}`);
    expect(c.session.breakpoints).toEqual(['sw@1000/1']);
    expect(t.bps.size).toBe(1);
  });
});

describe('Ctrl-C', () => {
  it('while running: the target is asked to stop, gdb gets T02', async () => {
    const { t, c } = connect({ async: true, slice: 1000 });
    t.effects.set(0x800, { op: 'loop' });
    c.send('c');
    expect(c.packets()).toEqual([]);
    expect(c.session.state).toBe('running');
    await new Promise((r) => setTimeout(r, 5));
    c.raw('\x03');
    expect(await nextPackets(c)).toEqual([`T02thread:1;${regsAt(0x800)}`]);
    expect(t.icount).toBeGreaterThanOrEqual(1000); // at least one slice ran before the Ctrl-C
    expect(c.session.state).toBe('stopped');
  });

  it('while stopped: ignored', () => {
    const { t, c } = connect();
    c.raw('\x03');
    expect(c.out()).toEqual([]);
    expect(t.calls).not.toContain('interrupt');
  });
});

describe('range stepping', () => {
  it('is emulated with single steps for targets without it', () => {
    const { t, c } = connect();
    expect(c.ask('vCont;r800,805:1')).toBe(`T05thread:1;${regsAt(0x805)}`);
    expect(t.calls.filter((x) => x.startsWith('resume'))).toEqual(Array(5).fill('resume 1:step'));
  });

  it('stops at a breakpoint inside the range (emulated)', () => {
    const { c } = connect();
    c.ask('Z0,803,1');
    expect(c.ask('vCont;r800,805:1')).toBe(`T05swbreak:;thread:1;${regsAt(0x803)}`);
  });

  it('stops at a watchpoint inside the range (emulated)', () => {
    const { t, c } = connect();
    t.effects.set(0x801, { op: 'store', addr: 0x2000, size: 4, value: 5 });
    c.ask('Z2,2000,4');
    expect(c.ask('vCont;r800,805:1')).toBe(`T05watch:2000;thread:1;${regsAt(0x802)}`);
  });

  it('yields to the event loop on a long range, and Ctrl-C stops it between steps', () => {
    const queue: (() => void)[] = [];
    const { t, c } = connect({}, { defer: (fn: () => void) => queue.push(fn) });
    t.effects.set(0x800, { op: 'loop' });
    c.send('vCont;r800,801:1');
    expect(c.packets()).toEqual([]);
    expect(queue).toHaveLength(1);
    queue.shift()!();
    expect(queue).toHaveLength(1);
    expect(t.icount).toBe(2000);
    c.raw('\x03');
    expect(c.packets()).toEqual([`T02thread:1;${regsAt(0x800)}`]);
    queue.shift()!(); // the stale continuation does nothing
    expect(t.icount).toBe(2000);
    expect(c.packets()).toEqual([]);
  });

  it('is passed through to targets that do it natively', () => {
    const { t, c } = connect({ rangeStepping: true });
    c.ask('Z0,803,1');
    expect(c.ask('vCont;r800,805:1')).toBe(`T05swbreak:;thread:1;${regsAt(0x803)}`);
    expect(t.calls.filter((x) => x.startsWith('resume'))).toEqual(['resume 1:range']);
  });
});

describe('threads', () => {
  it('lists vCPUs as threads and switches between them', () => {
    const { c } = connect({ threads: 2 });
    expect(c.ask('qfThreadInfo')).toBe('m1,2');
    expect(c.ask('qsThreadInfo')).toBe('l');
    expect(c.ask('qC')).toBe('QC1');
    expect(c.ask('Hg2')).toBe('OK');
    expect(c.ask('qC')).toBe('QC2');
    expect(c.ask('p0')).toBe(le(0x22222222));
    expect(c.ask('Hgp1.1')).toBe('OK');
    expect(c.ask('p0')).toBe(le(0x11111111));
    expect(c.ask('Hg3')).toBe('E03');
    expect(c.ask('T2')).toBe('OK');
    expect(c.ask('T3')).toBe('E03');
    expect(c.ask('T0')).toBe('E03');
    expect(c.ask('qThreadExtraInfo,2')).toBe(hexText('vCPU 1'));
    expect(c.ask('qThreadExtraInfo,5')).toBe('E03');
  });

  it('the thread that stops becomes the current one', () => {
    const { t, c } = connect({ threads: 2 });
    t.regs[1]![Reg.EIP] = 0xff0;
    c.ask('Z0,1000,1');
    expect(c.ask('c')).toBe(`T05swbreak:;thread:2;${regsAt(0x1000, 0x6f00)}`);
    expect(c.ask('qC')).toBe('QC2');
  });
});

describe('qXfer', () => {
  it('serves target.xml in pieces with m/l', () => {
    const { c } = connect();
    let doc = '';
    for (let off = 0; ; off += 0x100) {
      const r = c.ask(`qXfer:features:read:target.xml:${off.toString(16)},100`);
      doc += r.slice(1);
      if (r[0] === 'l') break;
      expect(r[0]).toBe('m');
      expect(r.length).toBe(0x101);
    }
    expect(doc).toBe(targetXml());
    expect(c.ask('qXfer:features:read:target.xml:ffff,100')).toBe('l');
    expect(c.ask('qXfer:features:read:other.xml:0,100')).toBe('E00');
    expect(c.ask('qXfer:libraries:read::0,100')).toBe('');
  });

  it('serves the thread list', () => {
    const { c } = connect({ threads: 2 });
    const r = c.ask('qXfer:threads:read::0,1000');
    expect(r).toMatch(/^l<\?xml/);
    expect(r).toContain('<thread id="1" core="0" name="vcpu0">vCPU 0</thread>');
    expect(r).toContain('<thread id="2" core="1" name="vcpu1">vCPU 1</thread>');
    expect(c.ask('qXfer:threads:read:x:0,1000')).toBe('E00');
  });
});

describe('monitor', () => {
  it('sends the output as O packets, then OK', () => {
    const { c } = connect({ monitor: { evtchn: () => 'port 1: console' } });
    c.send(`qRcmd,${hexText('help')}`);
    const p = c.packets();
    expect(p[p.length - 1]).toBe('OK');
    expect(consoleText(p)).toMatch(/^xenkit monitor commands:\n {2}monitor help +list the monitor commands\n {2}monitor evtchn /);
    c.send(`qRcmd,${hexText('evtchn')}`);
    expect(consoleText(c.packets())).toBe('port 1: console\n');
  });

  it('passes the current thread and splits long output', () => {
    const long = 'x'.repeat(20000);
    let thread = 0;
    const { c } = connect({ threads: 2, monitor: { regs: (t) => { thread = t; return long; } } });
    c.ask('Hg2');
    c.send(`qRcmd,${hexText('regs')}`);
    const p = c.packets();
    expect(thread).toBe(2);
    expect(p.length).toBeGreaterThan(3);
    for (const x of p) expect(x.length).toBeLessThanOrEqual(0x4000);
    expect(consoleText(p)).toBe(`${long}\n`);
  });

  it('a target without monitor handlers still has help', () => {
    const { c } = connect();
    c.send(`qRcmd,${hexText('regs')}`);
    expect(consoleText(c.packets())).toMatch(/unknown monitor command "regs"/);
  });
});

describe('ending the session', () => {
  it('D: OK, breakpoints removed, target detached (keeps running), connection closed', () => {
    const { t, c } = connect();
    c.ask('Z0,1000,1');
    c.ask('Z4,2000,8');
    expect(c.ask('D;1')).toBe('OK');
    expect(t.bps.size).toBe(0);
    expect(t.detached).toBe(true);
    expect(c.closed).toBe(true);
    expect(c.session.state).toBe('closed');
    c.send('g');
    expect(c.out()).toEqual([]);
  });

  it('k: no reply, the target is killed; without kill it is detached', () => {
    const { t, c } = connect();
    c.send('k');
    expect(c.packets()).toEqual([]);
    expect(t.killed).toBe(true);
    expect(c.closed).toBe(true);
    const b = connect();
    Object.defineProperty(b.t, 'kill', { value: undefined });
    b.c.send('k');
    expect(b.t.detached).toBe(true);
  });

  it('a lost connection detaches, also while running', async () => {
    const { t, c } = connect({ async: true, slice: 100 });
    t.effects.set(0x800, { op: 'loop' });
    c.ask('Z0,1000,1');
    c.send('c');
    c.session.disconnect();
    expect(t.detached).toBe(true);
    expect(t.bps.size).toBe(0);
    c.session.disconnect(); // twice is harmless
    expect(t.calls.filter((x) => x === 'detach')).toHaveLength(1);
  });
});

describe('a target that throws', () => {
  it('gets E01 and the error is reported, the session goes on', () => {
    const { t, c } = connect();
    t.readMemory = () => { throw new Error('target bug'); };
    expect(c.ask('m0,4')).toBe('E01');
    expect(c.errors).toHaveLength(1);
    expect(c.ask('qC')).toBe('QC1');
  });
});
