/**
 * Layer 2, the command table: each parser on good and bad input (hex,
 * addresses, lengths, binary X data, vCont actions, Z types, thread ids,
 * qSupported features, qXfer arguments), the name lookup (separators, so
 * `qC` never swallows `qCRC`), and the monitor command parsing.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, Errno, parseCommand, parseThreadId } from '../../src/gdbstub/commands.js';
import { hexToBytes, parseHex32 } from '../../src/gdbstub/hex.js';
import { parseUserAddress, runMonitor } from '../../src/gdbstub/monitor.js';
import type { MonitorHandlers } from '../../src/gdbstub/index.js';

const inv = { kind: 'invalid', errno: Errno.EINVAL };

describe('hex helpers', () => {
  it('parseHex32 takes any case and leading zeros, refuses more than 32 bits and non-hex', () => {
    expect(parseHex32('0')).toBe(0);
    expect(parseHex32('FfFfFfFf')).toBe(0xffffffff);
    expect(parseHex32('0000000000001000')).toBe(0x1000);
    expect(parseHex32('100000000')).toBeNull();
    expect(parseHex32('')).toBeNull();
    expect(parseHex32('-1')).toBeNull();
    expect(parseHex32('0x10')).toBeNull();
    expect(parseHex32('12 ')).toBeNull();
  });

  it('hexToBytes refuses odd lengths and non-hex', () => {
    expect(hexToBytes('00ff7A')).toEqual(Uint8Array.of(0, 0xff, 0x7a));
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
    expect(hexToBytes('abc')).toBeNull();
    expect(hexToBytes('zz')).toBeNull();
  });
});

describe('thread ids', () => {
  it('accepts hex, 0, -1 and the multiprocess form', () => {
    expect(parseThreadId('1')).toBe(1);
    expect(parseThreadId('a')).toBe(10);
    expect(parseThreadId('0')).toBe(0);
    expect(parseThreadId('-1')).toBe(-1);
    expect(parseThreadId('p1.2')).toBe(2);
    expect(parseThreadId('p1.-1')).toBe(-1);
    expect(parseThreadId('p-1.-1')).toBe(-1);
    expect(parseThreadId('p1')).toBe(-1);
    expect(parseThreadId('')).toBeNull();
    expect(parseThreadId('-2')).toBeNull();
    expect(parseThreadId('px.1')).toBeNull();
    expect(parseThreadId('80000000')).toBeNull();
  });
});

describe('parseCommand', () => {
  it('registers, halt reason', () => {
    expect(parseCommand('?')).toEqual({ kind: 'haltReason' });
    expect(parseCommand('g')).toEqual({ kind: 'readRegisters' });
    expect(parseCommand('gx')).toMatchObject(inv);
    expect(parseCommand('G0011xx')).toEqual({ kind: 'writeRegisters', hex: '0011xx' });
    expect(parseCommand('G001')).toMatchObject(inv);
    expect(parseCommand('p8')).toEqual({ kind: 'readRegister', reg: 8 });
    expect(parseCommand('p')).toMatchObject(inv);
    expect(parseCommand('pzz')).toMatchObject(inv);
    expect(parseCommand('P8=00100000')).toEqual({ kind: 'writeRegister', reg: 8, bytes: Uint8Array.of(0, 0x10, 0, 0) });
    expect(parseCommand('P8=')).toMatchObject(inv);
    expect(parseCommand('P8')).toMatchObject(inv);
    expect(parseCommand('P8=001')).toMatchObject(inv);
  });

  it('memory: m, M, X (binary data, length must match)', () => {
    expect(parseCommand('m1000,40')).toEqual({ kind: 'readMemory', addr: 0x1000, length: 0x40 });
    expect(parseCommand('mffffffff,1')).toEqual({ kind: 'readMemory', addr: 0xffffffff, length: 1 });
    expect(parseCommand('m100000000,1')).toMatchObject(inv);
    expect(parseCommand('m1000')).toMatchObject(inv);
    expect(parseCommand('m1000,')).toMatchObject(inv);
    expect(parseCommand('M2000,2:abcd')).toEqual({ kind: 'writeMemory', addr: 0x2000, data: Uint8Array.of(0xab, 0xcd) });
    expect(parseCommand('M2000,3:abcd')).toMatchObject(inv);
    expect(parseCommand('M2000,2')).toMatchObject(inv);
    expect(parseCommand('X2000,4:#$}*')).toEqual({ kind: 'writeMemory', addr: 0x2000, data: Uint8Array.of(0x23, 0x24, 0x7d, 0x2a) });
    expect(parseCommand('X2000,0:')).toEqual({ kind: 'writeMemory', addr: 0x2000, data: new Uint8Array(0) });
    expect(parseCommand('X2000,2:\xff')).toMatchObject(inv);
    expect(parseCommand('X2000,1:\xff')).toEqual({ kind: 'writeMemory', addr: 0x2000, data: Uint8Array.of(0xff) });
  });

  it('legacy resume: c, C, s, S with optional signal and address', () => {
    expect(parseCommand('c')).toEqual({ kind: 'continue' });
    expect(parseCommand('c1000')).toEqual({ kind: 'continue', addr: 0x1000 });
    expect(parseCommand('C0b')).toEqual({ kind: 'continue', signal: 11 });
    expect(parseCommand('C05;2000')).toEqual({ kind: 'continue', signal: 5, addr: 0x2000 });
    expect(parseCommand('C05;')).toMatchObject(inv);
    expect(parseCommand('C')).toMatchObject(inv);
    expect(parseCommand('Cxyz')).toMatchObject(inv);
    expect(parseCommand('s')).toEqual({ kind: 'step' });
    expect(parseCommand('S02')).toEqual({ kind: 'step', signal: 2 });
    expect(parseCommand('sq')).toMatchObject(inv);
  });

  it('vCont: actions with threads, signals and ranges; ? query', () => {
    expect(parseCommand('vCont?')).toEqual({ kind: 'vContQuery' });
    expect(parseCommand('vCont;c')).toEqual({ kind: 'vCont', actions: [{ op: 'continue' }] });
    expect(parseCommand('vCont;s:1;c')).toEqual({ kind: 'vCont', actions: [{ op: 'step', thread: 1 }, { op: 'continue' }] });
    expect(parseCommand('vCont;C0b:p1.2;S05:-1')).toEqual({
      kind: 'vCont', actions: [{ op: 'continue', signal: 11, thread: 2 }, { op: 'step', signal: 5 }],
    });
    expect(parseCommand('vCont;r1000,1010:1')).toEqual({ kind: 'vCont', actions: [{ op: 'range', start: 0x1000, end: 0x1010, thread: 1 }] });
    expect(parseCommand('vCont;r1000:1')).toMatchObject(inv);
    expect(parseCommand('vCont;t:1')).toMatchObject(inv);   // non-stop only
    expect(parseCommand('vCont;x')).toMatchObject(inv);
    expect(parseCommand('vCont;c:zz')).toMatchObject(inv);
    expect(parseCommand('vCont;')).toMatchObject(inv);
    expect(parseCommand('vCont')).toMatchObject(inv);
    expect(parseCommand('vContx')).toEqual({ kind: 'unsupported' });
  });

  it('Z/z: types 0-4, address, kind/length; conditions ignored; unknown types unsupported', () => {
    expect(parseCommand('Z0,1000,1')).toEqual({ kind: 'insertBreakpoint', type: 'sw', addr: 0x1000, length: 1 });
    expect(parseCommand('z1,1000,1')).toEqual({ kind: 'removeBreakpoint', type: 'hw', addr: 0x1000, length: 1 });
    expect(parseCommand('Z2,2000,4')).toEqual({ kind: 'insertBreakpoint', type: 'write', addr: 0x2000, length: 4 });
    expect(parseCommand('Z3,2000,100')).toEqual({ kind: 'insertBreakpoint', type: 'read', addr: 0x2000, length: 0x100 });
    expect(parseCommand('Z4,2001,3')).toEqual({ kind: 'insertBreakpoint', type: 'access', addr: 0x2001, length: 3 });
    expect(parseCommand('Z0,1000,1;X3,220a00;cmds:0,X2,2a00')).toMatchObject({ kind: 'insertBreakpoint', addr: 0x1000 });
    expect(parseCommand('Z5,1000,1')).toEqual({ kind: 'unsupported' });
    expect(parseCommand('Z2,2000,0')).toMatchObject(inv);
    expect(parseCommand('Z0,1000')).toMatchObject(inv);
    expect(parseCommand('Z00,1000,1')).toMatchObject(inv);
    expect(parseCommand('Z')).toMatchObject(inv);
  });

  it('threads: H, T, qfThreadInfo, qsThreadInfo, qC, qThreadExtraInfo', () => {
    expect(parseCommand('Hg0')).toEqual({ kind: 'setThread', op: 'g', thread: 0 });
    expect(parseCommand('Hc-1')).toEqual({ kind: 'setThread', op: 'c', thread: -1 });
    expect(parseCommand('Hgp1.2')).toEqual({ kind: 'setThread', op: 'g', thread: 2 });
    expect(parseCommand('Hg')).toMatchObject(inv);
    expect(parseCommand('Hx1')).toEqual({ kind: 'unsupported' });
    expect(parseCommand('T2')).toEqual({ kind: 'threadAlive', thread: 2 });
    expect(parseCommand('T')).toMatchObject(inv);
    expect(parseCommand('qfThreadInfo')).toEqual({ kind: 'threadInfoFirst' });
    expect(parseCommand('qsThreadInfo')).toEqual({ kind: 'threadInfoNext' });
    expect(parseCommand('qC')).toEqual({ kind: 'currentThread' });
    expect(parseCommand('qThreadExtraInfo,1')).toEqual({ kind: 'threadExtraInfo', thread: 1 });
    expect(parseCommand('qThreadExtraInfo')).toMatchObject(inv);
  });

  it('a multi-letter name must end at a separator: qC does not swallow qCRC', () => {
    expect(parseCommand('qCRC:1000,10')).toEqual({ kind: 'unsupported' });
    expect(parseCommand('qSupportedX')).toEqual({ kind: 'unsupported' });
    expect(parseCommand('qAttached:1')).toEqual({ kind: 'attached' });
  });

  it('queries: qSupported features, qXfer reads, qRcmd, the rest', () => {
    const sup = parseCommand('qSupported:multiprocess+;swbreak+;hwbreak-;xmlRegisters=i386;foo?');
    expect(sup).toEqual({
      kind: 'supported',
      features: new Map<string, unknown>([['multiprocess', true], ['swbreak', true], ['hwbreak', false], ['xmlRegisters', 'i386'], ['foo', 'query']]),
    });
    expect(parseCommand('qSupported')).toEqual({ kind: 'supported', features: new Map() });
    expect(parseCommand('qXfer:features:read:target.xml:0,ffb')).toEqual({ kind: 'xferRead', object: 'features', annex: 'target.xml', offset: 0, length: 0xffb });
    expect(parseCommand('qXfer:threads:read::10,20')).toEqual({ kind: 'xferRead', object: 'threads', annex: '', offset: 0x10, length: 0x20 });
    expect(parseCommand('qXfer:features:write:target.xml:0:abc')).toEqual({ kind: 'unsupported' });
    expect(parseCommand('qXfer:features:read:target.xml:0')).toMatchObject(inv);
    expect(parseCommand('qXfer:features')).toMatchObject(inv);
    expect(parseCommand('qRcmd,68656c70')).toEqual({ kind: 'monitor', command: 'help' });
    expect(parseCommand('qRcmd,')).toEqual({ kind: 'monitor', command: '' });
    expect(parseCommand('qRcmd,6')).toMatchObject(inv);
    expect(parseCommand('qRcmd')).toMatchObject(inv);
    expect(parseCommand('QStartNoAckMode')).toEqual({ kind: 'startNoAck' });
    expect(parseCommand('qAttached')).toEqual({ kind: 'attached' });
    expect(parseCommand('qOffsets')).toEqual({ kind: 'offsets' });
    expect(parseCommand('qSymbol::')).toEqual({ kind: 'symbol' });
    expect(parseCommand('D')).toEqual({ kind: 'detach' });
    expect(parseCommand('D;1')).toEqual({ kind: 'detach' });
    expect(parseCommand('k')).toEqual({ kind: 'kill' });
  });

  it('unknown packets are unsupported (empty reply), never an error', () => {
    for (const p of ['', 'vMustReplyEmpty', 'qTStatus', 'vKill;1', '!', 'bc', 'QNonStop:1', 'qL1200', '\xff\x00', 'A']) {
      expect(parseCommand(p)).toEqual({ kind: 'unsupported' });
    }
  });

  it('every table entry is documented and names are unique', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of COMMANDS) expect(c.doc.length).toBeGreaterThan(5);
  });
});

describe('monitor commands', () => {
  const calls: string[] = [];
  const all: MonitorHandlers = {
    regs: (t) => { calls.push(`regs ${t}`); return 'eax=0'; },
    pageWalk: (t, va) => { calls.push(`pt ${t} ${va.toString(16)}`); return 'walk\n'; },
    xsList: (p) => { calls.push(`xs ${p}`); return ''; },
    evtchn: () => 'ports\n',
    reset: () => 'reset\n',
    hypercallTrace: (on) => { calls.push(`trace ${on}`); return `trace ${on ? 'on' : 'off'}\n`; },
    xenstoreTrace: (on) => { calls.push(`xs trace ${on}`); return `xs trace ${on ? 'on' : 'off'}\n`; },
    devices: () => 'vbd x\n',
  };

  it('parses user addresses with or without 0x', () => {
    expect(parseUserAddress('0xC0001000')).toBe(0xc0001000);
    expect(parseUserAddress('c0001000')).toBe(0xc0001000);
    expect(parseUserAddress('0x')).toBeNull();
    expect(parseUserAddress('123456789')).toBeNull();
    expect(parseUserAddress('-1')).toBeNull();
  });

  it('dispatches with parsed arguments', () => {
    calls.length = 0;
    expect(runMonitor('regs', all, 2)).toBe('eax=0\n');
    expect(runMonitor('pt 0xc0001000', all, 1)).toBe('walk\n');
    expect(runMonitor('  xs   ls  ', all, 1)).toBe('');
    runMonitor('xs ls /local/domain/0', all, 1);
    runMonitor('trace hypercalls on', all, 1);
    runMonitor('trace hypercalls off', all, 1);
    runMonitor('trace xenstore on', all, 1);
    expect(runMonitor('trace xenstore maybe', all, 1)).toBe('usage: monitor trace hypercalls|xenstore|events on|off\n');
    expect(runMonitor('trace events on', all, 1)).toBe('usage: monitor trace hypercalls|xenstore|events on|off\n');
    expect(calls).toEqual(['regs 2', 'pt 1 c0001000', 'xs /', 'xs /local/domain/0', 'trace true', 'trace false', 'xs trace true']);
  });

  it('answers bad arguments with usage, never calls the handler', () => {
    calls.length = 0;
    expect(runMonitor('pt', all, 1)).toMatch(/^usage: monitor pt <va>/);
    expect(runMonitor('pt zz', all, 1)).toMatch(/^usage/);
    expect(runMonitor('xs rm /', all, 1)).toMatch(/^usage: monitor xs ls/);
    expect(runMonitor('trace hypercalls maybe', all, 1)).toMatch(/^usage/);
    expect(runMonitor('regs extra', all, 1)).toMatch(/^usage/);
    expect(calls).toEqual([]);
  });

  it('help lists exactly the commands the target implements; empty line is help', () => {
    const full = runMonitor('help', all, 1);
    for (const c of ['help', 'regs', 'pt <va>', 'xs ls [path]', 'evtchn', 'devices', 'reset', 'trace hypercalls|xenstore|events on|off']) expect(full).toContain(`monitor ${c}`);
    expect(runMonitor('devices', all, 1)).toBe('vbd x\n');
    expect(runMonitor('devices now', all, 1)).toBe('usage: monitor devices\n');
    const some = runMonitor('', { evtchn: () => 'x' }, 1);
    expect(some).toContain('monitor evtchn');
    expect(some).not.toContain('monitor regs');
    expect(runMonitor('regs', { evtchn: () => 'x' }, 1)).toMatch(/unknown monitor command "regs"/);
  });

  it('passes other commands to the target, or says they are unknown', () => {
    expect(runMonitor('frob 1', { other: (l) => (l === 'frob 1' ? 'frobbed' : null) }, 1)).toBe('frobbed\n');
    expect(runMonitor('nope', { other: () => null }, 1)).toMatch(/unknown monitor command "nope"/);
  });
});
