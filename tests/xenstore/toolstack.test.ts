/**
 * The tree the toolstack writes (libxl's layout and permissions), the
 * device helper, domain removal, and the dom0 client used to write them.
 */
import { describe, expect, it } from 'vitest';
import {
  XenstoreServer, XsClient, XsError, addDevice, buildDom0Tree, buildDomainTree, defaultUuid, formatPerm, removeDomainTree,
} from '../../src/vmm/devices/xenstore/index.js';

/** Every node below `root` as "path = value [perms]". */
function dump(server: XenstoreServer, root: string): string[] {
  const out: string[] = [];
  for (const p of server.store.paths()) {
    if (p !== root && !p.startsWith(`${root}/`)) continue;
    const n = server.store.get(p)!;
    out.push(`${p} = ${Buffer.from(n.value).toString()} [${n.perms.map(formatPerm).join(' ')}]`);
  }
  return out.sort();
}

describe('toolstack tree', () => {
  it('writes libxl\'s per-domain tree with libxl\'s permissions', () => {
    const server = new XenstoreServer();
    buildDom0Tree(server);
    buildDomainTree(server, {
      domid: 3, name: 'demo', memoryKiB: 32768, maxMemoryKiB: 65536, vcpus: 2,
      console: { mfn: 0x1fff, port: 2 }, store: { mfn: 0x1ffe, port: 1 },
    });
    const d = '/local/domain/3';
    expect(dump(server, d)).toEqual([
      `${d} =  [n0 r3]`,
      `${d}/attr =  [n3]`,
      `${d}/console =  [n3 r0]`,
      `${d}/console/backend-id = 0 [n3 r0]`,
      `${d}/console/limit = 1048576 [n0 r3]`,
      `${d}/console/output = pty [n0 r3]`,
      `${d}/console/port = 2 [n0 r3]`,
      `${d}/console/ring-ref = ${0x1fff} [n0 r3]`,
      `${d}/console/type = xenconsoled [n0 r3]`,
      `${d}/control =  [n0 r3]`,
      `${d}/control/feature-poweroff =  [n3]`,
      `${d}/control/feature-reboot =  [n3]`,
      `${d}/control/feature-suspend =  [n3]`,
      `${d}/control/shutdown =  [n3]`,
      `${d}/control/sysrq =  [n3]`,
      `${d}/cpu =  [n0 r3]`,
      `${d}/cpu/0 =  [n0 r3]`,
      `${d}/cpu/0/availability = online [n0 r3]`,
      `${d}/cpu/1 =  [n0 r3]`,
      `${d}/cpu/1/availability = online [n0 r3]`,
      `${d}/data =  [n3]`,
      `${d}/device =  [n0 r3]`,
      `${d}/device/suspend =  [n0 r3]`,
      `${d}/device/suspend/event-channel =  [n3]`,
      `${d}/domid = 3 [n0 r3]`,
      `${d}/drivers =  [n3]`,
      `${d}/error =  [n3]`,
      `${d}/feature =  [n3]`,
      `${d}/memory =  [n0 r3]`,
      `${d}/memory/static-max = 65536 [n0 r3]`,
      `${d}/memory/target = 32768 [n0 r3]`,
      `${d}/name = demo [n0 r3]`,
      `${d}/store =  [n0 r3]`,
      `${d}/store/port = 1 [n0 r3]`,
      `${d}/store/ring-ref = ${0x1ffe} [n0 r3]`,
      `${d}/vm = /vm/${defaultUuid(3)} [n0 r3]`,
    ]);
    expect(dump(server, '/vm')).toEqual([
      '/vm =  [n0]',
      `/vm/${defaultUuid(3)} =  [n0 r3]`,
      `/vm/${defaultUuid(3)}/name = demo [n0 r3]`,
      `/vm/${defaultUuid(3)}/uuid = ${defaultUuid(3)} [n0 r3]`,
    ]);
    expect(dump(server, '/local/domain/0')).toEqual([
      '/local/domain/0 =  [n0]',
      '/local/domain/0/domid = 0 [n0]',
      '/local/domain/0/name = Domain-0 [n0]',
    ]);
    expect(server.store.get('/local')!.perms).toEqual([{ domid: 0, access: 'n' }]);
  });

  it('the guest sees its tree as XTF and Mini-OS read it', () => {
    const server = new XenstoreServer();
    buildDomainTree(server, { domid: 1, name: 'xtf', memoryKiB: 4096, console: { mfn: 5, port: 2 } });
    const g = new XsClient(server, 1);
    expect(g.read('domid')).toBe('1');
    expect(g.read('name')).toBe('xtf');
    expect(g.read('console/port')).toBe('2');
    expect(g.domainPath(1)).toBe('/local/domain/1');
    expect(g.directory('device')).toEqual(['suspend']);
  });

  it('rebuilding a domain replaces its old tree', () => {
    const server = new XenstoreServer();
    buildDomainTree(server, { domid: 1, name: 'a', memoryKiB: 4096 });
    new XsClient(server).write('/local/domain/1/data/stale', 'x');
    buildDomainTree(server, { domid: 1, name: 'b', memoryKiB: 4096 });
    const xs = new XsClient(server);
    expect(xs.read('/local/domain/1/name')).toBe('b');
    expect(xs.tryRead('/local/domain/1/data/stale')).toBeUndefined();
  });

  it('addDevice writes a linked frontend/backend pair in state 1', () => {
    const server = new XenstoreServer();
    buildDomainTree(server, { domid: 2, name: 'n', memoryKiB: 4096 });
    const { frontend, backend } = addDevice(server, {
      type: 'vif', devid: 0, frontendDomid: 2, front: { mac: '00:16:3e:00:00:01', handle: '0' }, back: { bridge: 'xenbr0' },
    });
    expect(frontend).toBe('/local/domain/2/device/vif/0');
    expect(backend).toBe('/local/domain/0/backend/vif/2/0');
    const xs = new XsClient(server);
    expect(xs.directory(frontend).sort()).toEqual(['backend', 'backend-id', 'handle', 'mac', 'state']);
    expect(xs.directory(backend).sort()).toEqual(['bridge', 'frontend', 'frontend-id', 'online', 'state']);
    expect(xs.read(`${frontend}/backend`)).toBe(backend);
    expect(xs.read(`${backend}/frontend`)).toBe(frontend);
    expect(xs.getPerms(frontend)).toEqual(['n2', 'r0']);
    expect(xs.getPerms(`${backend}/state`)).toEqual(['n0', 'r2']);
  });

  it('removeDomainTree removes the domain, its /vm entry and its backends, and fires @releaseDomain', () => {
    const server = new XenstoreServer();
    buildDom0Tree(server);
    buildDomainTree(server, { domid: 4, name: 'gone', memoryKiB: 4096 });
    addDevice(server, { type: 'vbd', devid: 768, frontendDomid: 4 });
    const xs = new XsClient(server);
    xs.watch('@releaseDomain', 'r');
    xs.events();
    removeDomainTree(server, 4);
    expect(xs.tryRead('/local/domain/4')).toBeUndefined();
    expect(xs.tryRead(`/vm/${defaultUuid(4)}`)).toBeUndefined();
    expect(xs.directory('/local/domain/0/backend/vbd')).toEqual([]);
    expect(xs.events()).toEqual([{ path: '@releaseDomain', token: 'r' }]);
  });

  it('rejects domids a guest cannot have', () => {
    const server = new XenstoreServer();
    for (const domid of [0, -1, 1.5, 0x7ff0]) expect(() => buildDomainTree(server, { domid, name: 'x', memoryKiB: 1 })).toThrow(RangeError);
  });
});

describe('dom0 client', () => {
  it('throws XsError with the errno name', () => {
    const xs = new XsClient(new XenstoreServer());
    expect(() => xs.read('/missing')).toThrow(XsError);
    try {
      xs.read('/missing');
    } catch (e) {
      expect((e as XsError).code).toBe('ENOENT');
    }
  });

  it('carries UTF-8 strings and raw bytes', () => {
    const xs = new XsClient(new XenstoreServer());
    xs.write('/u', 'héllo');
    expect(xs.read('/u')).toBe('héllo');
    xs.write('/b', Uint8Array.of(0, 255));
    expect([...xs.readBytes('/b')]).toEqual([0, 255]);
  });

  it('a closed client gets EIO', () => {
    const xs = new XsClient(new XenstoreServer());
    xs.close();
    expect(() => xs.read('/')).toThrow(/EIO/);
  });
});
