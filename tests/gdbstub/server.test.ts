/**
 * The TCP side: `--gdb [HOST:]PORT` parsing, the warning for non-loopback
 * hosts, one debugger at a time (a second connection is refused, the next
 * one after a disconnect is taken), with a fake duplex socket and with real
 * loopback sockets on an ephemeral port, and a port already in use.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  GdbServer, GdbStubError, exposureWarning, formatAddress, isLoopback, parseGdbAddress, type GdbSocket,
} from '../../src/gdbstub/index.js';
import { FakeTarget } from './fake-target.js';
import { frame } from './client.js';

describe('parseGdbAddress', () => {
  it('defaults the host to 127.0.0.1', () => {
    expect(parseGdbAddress('1234')).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(parseGdbAddress('0')).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('takes an explicit host, IPv6 in brackets', () => {
    expect(parseGdbAddress('0.0.0.0:1234')).toEqual({ host: '0.0.0.0', port: 1234 });
    expect(parseGdbAddress('localhost:9')).toEqual({ host: 'localhost', port: 9 });
    expect(parseGdbAddress('build-box.lan:65535')).toEqual({ host: 'build-box.lan', port: 65535 });
    expect(parseGdbAddress('[::1]:1234')).toEqual({ host: '::1', port: 1234 });
  });

  it('refuses what does not parse, with a one-line message', () => {
    for (const bad of ['', 'abc', '70000', '-1', '12.5', ':1234', '::1:1234', 'a b:1', 'host:', '[::1]', 'host:port']) {
      let err: unknown;
      try { parseGdbAddress(bad); } catch (e) { err = e; }
      expect(err, bad).toBeInstanceOf(GdbStubError);
      expect((err as GdbStubError).code).toBe('EGDBADDR');
      expect((err as GdbStubError).message).toMatch(/^--gdb ".*": .*; use PORT or HOST:PORT/);
      expect((err as GdbStubError).message).not.toContain('\n');
    }
  });
});

describe('exposure warning', () => {
  it('is silent for loopback, warns for anything else', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopback(h)).toBe(true);
      expect(exposureWarning({ host: h, port: 1 })).toBeNull();
    }
    for (const h of ['0.0.0.0', '::', '192.168.1.5', 'build-box.lan', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
    expect(exposureWarning({ host: '0.0.0.0', port: 1234 })).toBe(
      'warning: the gdb stub listens on 0.0.0.0:1234, not on loopback: anyone who can reach this port can read and change the guest (the gdb protocol has no authentication)');
    expect(formatAddress({ host: '::', port: 1 })).toBe('[::]:1');
  });
});

/** A fake duplex: what the server writes is collected; `emit` plays the peer. */
class FakeSocket implements GdbSocket {
  readonly written: string[] = [];
  readonly handlers = new Map<string, ((arg?: unknown) => void)[]>();
  ended = false;
  destroyed = false;
  noDelay = false;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  write(data: Uint8Array): boolean { this.written.push(Buffer.from(data).toString('latin1')); return true; }
  end(): void { this.ended = true; this.emit('close'); }
  destroy(): void { this.destroyed = true; }
  setNoDelay(on?: boolean): void { this.noDelay = on ?? true; }
  on(event: string, listener: (arg: never) => void): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), listener as (arg?: unknown) => void]);
    return this;
  }
  emit(event: string, arg?: unknown): void {
    for (const h of this.handlers.get(event) ?? []) h(arg);
  }
}

describe('GdbServer with a fake socket', () => {
  it('one session at a time; the next after a disconnect is taken', () => {
    const t = new FakeTarget();
    const log: string[] = [];
    const server = new GdbServer({ target: t, log: (l) => log.push(l) });
    const a = new FakeSocket(), b = new FakeSocket(), c = new FakeSocket();
    expect(server.accept(a)).toBe(true);
    expect(a.noDelay).toBe(true);
    a.emit('data', Buffer.from(frame('qC')));
    expect(a.written.join('')).toMatch(/^\+\$QC1#/);
    expect(server.accept(b)).toBe(false);
    expect(b.destroyed).toBe(true);
    expect(log).toEqual(['gdb: connected from 127.0.0.1:40000', 'gdb: refused 127.0.0.1:40000: a debugger is already connected (one at a time)']);
    a.emit('close');
    expect(t.detached).toBe(true);
    expect(server.session).toBeNull();
    expect(server.accept(c)).toBe(true);
    expect(t.calls.filter((x) => x === 'attach')).toHaveLength(2);
  });

  it('D ends the socket gracefully', () => {
    const t = new FakeTarget();
    const server = new GdbServer({ target: t });
    const a = new FakeSocket();
    server.accept(a);
    a.emit('data', Buffer.from(frame('D')));
    expect(a.written.join('')).toBe('+$OK#9a');
    expect(a.ended).toBe(true);
    expect(server.session).toBeNull();
  });

  it('after D the next client is taken even before the old socket reports close', () => {
    const t = new FakeTarget();
    const server = new GdbServer({ target: t });
    const a = new FakeSocket();
    a.end = () => { a.ended = true; }; // no close event yet
    server.accept(a);
    a.emit('data', Buffer.from(frame('D')));
    const b = new FakeSocket();
    expect(server.accept(b)).toBe(true);
    a.emit('close'); // late: must not clear the new session
    expect(server.session).not.toBeNull();
    b.emit('data', Buffer.from(frame('qC')));
    expect(b.written.join('')).toMatch(/^\+\$QC1#/);
  });

  it('listen without a listener factory is an error', async () => {
    await expect(new GdbServer({ target: new FakeTarget() }).listen({ host: '127.0.0.1', port: 0 })).rejects.toMatchObject({ code: 'EGDBLISTEN' });
  });
});

/** Connect, send bytes, collect what comes back until `done` says so (bounded). */
function talk(port: number, send: string, done: (got: string) => boolean): Promise<{ got: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`timeout, got ${JSON.stringify(got)}`)); }, 5000);
    const finish = (): void => { clearTimeout(timer); resolve({ got, closed }); };
    s.on('connect', () => s.write(send));
    s.on('data', (d) => { got += d.toString('latin1'); if (done(got)) { s.end(); finish(); } });
    s.on('close', () => { closed = true; finish(); });
    s.on('error', () => { closed = true; finish(); });
  });
}

describe('GdbServer on real loopback sockets', () => {
  it('serves a client on an ephemeral port and refuses a second one', async () => {
    const t = new FakeTarget();
    const log: string[] = [];
    const server = new GdbServer({ target: t, createListener: (cb) => net.createServer(cb), log: (l) => log.push(l) });
    const { host, port } = await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect(host).toBe('127.0.0.1');
      expect(port).toBeGreaterThan(0);
      // First client stays connected while a second one tries.
      const first = net.connect(port, '127.0.0.1');
      let firstGot = '';
      first.on('data', (d) => { firstGot += d.toString('latin1'); });
      await new Promise<void>((r) => first.on('connect', () => r()));
      first.write(frame('qC'));
      for (let i = 0; i < 500 && !firstGot.includes('#'); i++) await new Promise((r) => setTimeout(r, 5));
      expect(firstGot).toMatch(/^\+\$QC1#[0-9a-f]{2}$/);
      const second = await talk(port, frame('qC'), () => false);
      expect(second).toEqual({ got: '', closed: true });
      expect(log.some((l) => l.startsWith('gdb: refused'))).toBe(true);
      first.end();
      for (let i = 0; i < 500 && server.session !== null; i++) await new Promise((r) => setTimeout(r, 5));
      expect(t.detached).toBe(true);
      const third = await talk(port, frame('qAttached'), (g) => g.includes('#'));
      expect(third.got).toMatch(/^\+\$1#31/);
    } finally {
      await server.close();
    }
  });

  it('a port in use is a one-line EGDBLISTEN error', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const server = new GdbServer({ target: new FakeTarget(), createListener: (cb) => net.createServer(cb) });
      await expect(server.listen({ host: '127.0.0.1', port })).rejects.toMatchObject({
        code: 'EGDBLISTEN', message: `cannot listen for gdb on 127.0.0.1:${port}: the port is in use`,
      });
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
