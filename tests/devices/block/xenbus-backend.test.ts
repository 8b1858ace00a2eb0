/**
 * The xenbus backend state machine (src/vmm/devices/xenbus-backend.ts)
 * driven through the real XenstoreServer: a guest XsClient plays the
 * frontend (Mini-OS's order: keys and Connected in one transaction;
 * teardown Closing → Closed → Initialising), recording hooks play the
 * device.
 */
import { describe, expect, it } from 'vitest';
import { XsClient, addDevice } from '../../../src/vmm/devices/xenstore/index.js';
import { XenbusBackend, XenbusBackendError, type XenbusContext } from '../../../src/vmm/devices/xenbus-backend.js';
import { GUEST, ST, newServer } from './helpers.js';

function setup(o: { connectResult?: string | null } = {}) {
  const server = newServer();
  const { frontend, backend } = addDevice(server, { type: 'vbd', devid: 51712, frontendDomid: GUEST });
  const calls: string[] = [];
  let connectResult = o.connectResult ?? null;
  const seen: Record<string, string | undefined> = {};
  const be = new XenbusBackend(server, backend, {
    publish: (ctx) => {
      calls.push('publish');
      ctx.publish('feature-x', '1');
    },
    connect: (ctx: XenbusContext) => {
      calls.push('connect');
      seen['ring-ref'] = ctx.front('ring-ref');
      seen.missing = ctx.front('nope');
      return connectResult;
    },
    disconnect: () => calls.push('disconnect'),
    connected: () => calls.push('connected'),
  });
  const g = new XsClient(server, GUEST);
  const d = new XsClient(server, 0);
  const state = () => Number(d.read(`${backend}/state`));
  const front = (s: number | string) => {
    g.write(`${frontend}/state`, String(s));
    return be.poll();
  };
  return {
    server, frontend, backend, be, g, d, calls, seen, state, front,
    setConnectResult: (r: string | null) => { connectResult = r; },
  };
}

describe('XenbusBackend', () => {
  it('publishes, goes InitWait, connects on frontend Connected', () => {
    const t = setup();
    expect(t.state()).toBe(ST.Initialising);
    t.be.start();
    expect(t.state()).toBe(ST.InitWait);
    expect(t.d.read(`${t.backend}/feature-x`)).toBe('1');
    // The watch's initial firing sees frontend Initialising: nothing to do.
    expect(t.be.poll()).toBe(false);
    expect(t.calls).toEqual(['publish']);
    // Mini-OS: keys and state in one transaction.
    const tx = t.g.start();
    t.g.write(`${t.frontend}/ring-ref`, '8', tx);
    t.g.write(`${t.frontend}/state`, '4', tx);
    expect(t.g.end(tx)).toBe(true);
    expect(t.be.poll()).toBe(true);
    expect(t.state()).toBe(ST.Connected);
    expect(t.calls).toEqual(['publish', 'connect', 'connected']);
    expect(t.seen).toEqual({ 'ring-ref': '8', missing: undefined });
    // A repeated event with the same state is idempotent.
    expect(t.front(4)).toBe(false);
    expect(t.calls).toHaveLength(3);
  });

  it('treats Initialised (3) as ring published too, and a 3→4 pair connects once', () => {
    const t = setup();
    t.be.start();
    t.g.write(`${t.frontend}/state`, '3');
    t.g.write(`${t.frontend}/state`, '4');
    t.be.poll();
    expect(t.state()).toBe(ST.Connected);
    expect(t.calls.filter((c) => c === 'connect')).toHaveLength(1);
  });

  it('a failed connect goes Closing with an error node, and does not retry while the frontend stays Connected', () => {
    const t = setup({ connectResult: 'no ring' });
    t.be.start();
    t.front(4);
    expect(t.state()).toBe(ST.Closing);
    expect(t.d.read(`${t.backend}/error`)).toBe('no ring');
    expect(t.be.error).toBe('no ring');
    expect(t.calls).toEqual(['publish', 'connect', 'disconnect']);
    t.front(4);
    expect(t.calls.filter((c) => c === 'connect')).toHaveLength(1);
    // The frontend starts over: the error goes, the handshake restarts.
    t.setConnectResult(null);
    t.front(1);
    expect(t.state()).toBe(ST.InitWait);
    expect(t.d.tryRead(`${t.backend}/error`)).toBeUndefined();
    t.front(4);
    expect(t.state()).toBe(ST.Connected);
  });

  it('follows Mini-OS teardown: Closing → Closed → Initialising → InitWait, then reconnects', () => {
    const t = setup();
    t.be.start();
    t.front(4);
    t.calls.length = 0;
    t.front(5);
    expect(t.state()).toBe(ST.Closing);
    expect(t.calls).toEqual(['disconnect']);
    t.front(6);
    expect(t.state()).toBe(ST.Closed);
    t.front(1);
    expect(t.state()).toBe(ST.InitWait);
    expect(t.calls).toEqual(['disconnect', 'disconnect', 'disconnect', 'publish']);
    t.front(4);
    expect(t.state()).toBe(ST.Connected);
  });

  it('frontend Connected straight after Closed reconnects; Closing while InitWait closes', () => {
    const t = setup();
    t.be.start();
    t.front(6);
    expect(t.state()).toBe(ST.Closed);
    t.front(4);
    expect(t.state()).toBe(ST.Connected);
    const u = setup();
    u.be.start();
    u.front(5);
    expect(u.state()).toBe(ST.Closing);
  });

  it('a frontend that restarts without closing (Connected → Initialising) gets a fresh handshake', () => {
    const t = setup();
    t.be.start();
    t.front(4);
    t.front(1);
    expect(t.state()).toBe(ST.InitWait);
    expect(t.calls).toContain('disconnect');
  });

  it('a vanished frontend directory closes the backend', () => {
    const t = setup();
    t.be.start();
    t.front(4);
    t.d.rm(t.frontend);
    t.be.poll();
    expect(t.state()).toBe(ST.Closed);
    expect(t.calls.at(-1)).toBe('disconnect');
  });

  it('ignores InitWait / Reconfiguring / Reconfigured and fails on garbage states', () => {
    const t = setup();
    t.be.start();
    for (const s of [2, 7, 8]) expect(t.front(s)).toBe(false);
    expect(t.state()).toBe(ST.InitWait);
    t.front('4x');
    expect(t.state()).toBe(ST.Closing);
    expect(t.d.read(`${t.backend}/error`)).toMatch(/not a XenbusState/);
    const u = setup();
    u.be.start();
    u.front(99);
    expect(u.state()).toBe(ST.Closing);
  });

  it('fail() from the device disconnects and goes Closing with the reason', () => {
    const t = setup();
    t.be.start();
    t.front(4);
    t.be.fail('ring corrupt');
    expect(t.state()).toBe(ST.Closing);
    expect(t.d.read(`${t.backend}/error`)).toBe('ring corrupt');
    expect(t.calls.at(-1)).toBe('disconnect');
  });

  it('close() disconnects, writes Closed and stops listening', () => {
    const t = setup();
    t.be.start();
    t.front(4);
    t.be.close();
    expect(t.state()).toBe(ST.Closed);
    t.g.write(`${t.frontend}/state`, '1');
    expect(t.be.poll()).toBe(false);
    expect(t.state()).toBe(ST.Closed);
    t.be.close();
  });

  it('does nothing before start()', () => {
    const t = setup();
    t.g.write(`${t.frontend}/state`, '4');
    expect(t.be.poll()).toBe(false);
    expect(t.calls).toEqual([]);
  });

  it('refuses a backend directory the toolstack did not create', () => {
    const server = newServer();
    expect(() => new XenbusBackend(server, '/local/domain/0/backend/vbd/1/5', {
      publish() {}, connect: () => null, disconnect() {},
    })).toThrow(XenbusBackendError);
  });
});
