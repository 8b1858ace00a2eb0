/**
 * The xenstore tree a toolstack writes for a domain, as libxl does when it
 * creates one (libxl__domain_make, libxl__build_post, the console device;
 * Xen's docs/misc/xenstore-paths.pandoc; reference §6):
 *
 *   /local/domain/<id>                 n0 r<id>   (guest reads its home)
 *     name, domid, vm                  inherited  (read-only to the guest)
 *     cpu/<n>/availability, memory/{static-max,target}
 *     store/{ring-ref,port}            (when given)
 *     control/                         n0 r<id>
 *       shutdown, sysrq, feature-{poweroff,reboot,suspend}   n<id>  (guest-owned)
 *     device/                          n0 r<id>   (frontend dirs are added per device)
 *       suspend/event-channel          n<id>
 *     data/ drivers/ feature/ attr/ error/   n<id>
 *     console/                         n<id> r0   (a frontend dir: guest-owned, backend reads)
 *       backend-id                     n<id> r0
 *       ring-ref, port, limit, type=xenconsoled, output=pty   n0 r<id>
 *   /vm/<uuid>/{uuid,name}             n0 r<id>
 *   /local/domain/0/{name,domid}       n0
 *
 * Parents created on the way (/local, /local/domain, /vm) inherit the
 * root's "n0". Written over the real protocol as dom0 (XsClient), so
 * watches fire as they would for a real toolstack. `addDevice` adds a frontend/backend
 * pair the way libxl__device_generic_add does.
 */
import type { XenstoreServer } from './server.js';
import { XsClient } from './client.js';
import { XsError } from './errors.js';

/** Bytes xenconsoled may buffer per console (libxl's LIBXL_XENCONSOLE_LIMIT). */
export const XENCONSOLE_LIMIT = 1048576;

export interface DomainTreeOptions {
  domid: number;
  name: string;
  /** Default: derived from the domid (00000000-0000-0000-0000-<domid in hex>). */
  uuid?: string;
  /** Current memory target, KiB. */
  memoryKiB: number;
  /** Maximum memory, KiB (default: memoryKiB). */
  maxMemoryKiB?: number;
  vcpus?: number;
  /** The PV console page (its mfn) and event channel. */
  console?: { mfn: number; port: number };
  /** The xenstore page and event channel. */
  store?: { mfn: number; port: number };
}

/** The uuid used when none is given. */
export function defaultUuid(domid: number): string {
  return `00000000-0000-0000-0000-${domid.toString(16).padStart(12, '0')}`;
}

/** RM that also accepts a missing parent. */
function rmIfAny(xs: XsClient, path: string, tx = 0): void {
  try {
    xs.rm(path, tx);
  } catch (e) {
    if (!(e instanceof XsError && e.code === 'ENOENT')) throw e;
  }
}

function withClient<T>(server: XenstoreServer, f: (xs: XsClient) => T): T {
  const xs = new XsClient(server, 0);
  try {
    return f(xs);
  } finally {
    xs.close();
  }
}

/** Write `/local/domain/0` (dom0's own, minimal entry). */
export function buildDom0Tree(server: XenstoreServer): void {
  withClient(server, (xs) => {
    xs.write('/local/domain/0/name', 'Domain-0');
    xs.write('/local/domain/0/domid', '0');
  });
}

/** Write the standard tree of a guest domain (see the header). */
export function buildDomainTree(server: XenstoreServer, o: DomainTreeOptions): void {
  const id = o.domid;
  if (!Number.isInteger(id) || id <= 0 || id > 0x7fef) throw new RangeError(`bad guest domid ${id}`);
  const dom = `/local/domain/${id}`;
  const uuid = o.uuid ?? defaultUuid(id);
  const vm = `/vm/${uuid}`;
  const ro = ['n0', `r${id}`];
  const rw = [`n${id}`];
  const front = [`n${id}`, 'r0'];
  withClient(server, (xs) => {
    const mknod = (path: string, perms: readonly string[], value = ''): void => {
      xs.write(path, value);
      xs.setPerms(path, perms);
    };
    rmIfAny(xs, dom);
    mknod(dom, ro);
    mknod(vm, ro);
    xs.write(`${vm}/uuid`, uuid);
    xs.write(`${vm}/name`, o.name);
    xs.write(`${dom}/vm`, vm);
    xs.write(`${dom}/name`, o.name);
    xs.write(`${dom}/domid`, String(id));
    for (let i = 0; i < (o.vcpus ?? 1); i++) xs.write(`${dom}/cpu/${i}/availability`, 'online');
    xs.write(`${dom}/memory/static-max`, String(o.maxMemoryKiB ?? o.memoryKiB));
    xs.write(`${dom}/memory/target`, String(o.memoryKiB));
    if (o.store !== undefined) {
      xs.write(`${dom}/store/ring-ref`, String(o.store.mfn));
      xs.write(`${dom}/store/port`, String(o.store.port));
    }
    mknod(`${dom}/control`, ro);
    for (const k of ['shutdown', 'sysrq', 'feature-poweroff', 'feature-reboot', 'feature-suspend']) mknod(`${dom}/control/${k}`, rw);
    mknod(`${dom}/device`, ro);
    mknod(`${dom}/device/suspend/event-channel`, rw);
    for (const k of ['data', 'drivers', 'feature', 'attr', 'error']) mknod(`${dom}/${k}`, rw);
    if (o.console !== undefined) {
      const c = `${dom}/console`;
      mknod(c, front);
      mknod(`${c}/backend-id`, front, '0');
      mknod(`${c}/ring-ref`, ro, String(o.console.mfn));
      mknod(`${c}/port`, ro, String(o.console.port));
      mknod(`${c}/limit`, ro, String(XENCONSOLE_LIMIT));
      mknod(`${c}/type`, ro, 'xenconsoled');
      mknod(`${c}/output`, ro, 'pty');
    }
  });
  server.fireSpecial('@introduceDomain');
}

/** Remove a domain's tree (on destruction) and tell @releaseDomain watchers. */
export function removeDomainTree(server: XenstoreServer, domid: number, uuid = defaultUuid(domid)): void {
  withClient(server, (xs) => {
    rmIfAny(xs, `/local/domain/${domid}`);
    rmIfAny(xs, `/vm/${uuid}`);
    // libxl leaves /local/domain/0/backend/<type>/<domid> to the backends; remove what is there.
    for (const type of xs.tryRead('/local/domain/0/backend') === undefined ? [] : xs.directory('/local/domain/0/backend')) {
      rmIfAny(xs, `/local/domain/0/backend/${type}/${domid}`);
    }
  });
  server.fireSpecial('@releaseDomain');
}

export interface DeviceOptions {
  /** "vbd", "vif", ... */
  type: string;
  devid: number;
  /** The guest. */
  frontendDomid: number;
  backendDomid?: number;
  /** Extra frontend keys (guest-owned). */
  front?: Readonly<Record<string, string>>;
  /** Extra backend keys (backend-owned, guest-readable). */
  back?: Readonly<Record<string, string>>;
}

/**
 * A frontend/backend pair in XenbusStateInitialising (1), as
 * libxl__device_generic_add makes it: the frontend directory owned by the
 * guest and readable by the backend domain, the backend directory owned
 * by the backend domain and readable by the guest. Returns both paths.
 */
export function addDevice(server: XenstoreServer, d: DeviceOptions): { frontend: string; backend: string } {
  const fd = d.frontendDomid, bd = d.backendDomid ?? 0;
  const frontend = `/local/domain/${fd}/device/${d.type}/${d.devid}`;
  const backend = `/local/domain/${bd}/backend/${d.type}/${fd}/${d.devid}`;
  withClient(server, (xs) => {
    const t = xs.start();
    rmIfAny(xs, frontend, t);
    rmIfAny(xs, backend, t);
    xs.mkdir(frontend, t);
    xs.setPerms(frontend, [`n${fd}`, `r${bd}`], t);
    xs.mkdir(backend, t);
    xs.setPerms(backend, [`n${bd}`, `r${fd}`], t);
    const fents: Record<string, string> = { backend, 'backend-id': String(bd), state: '1', ...d.front };
    const bents: Record<string, string> = { frontend, 'frontend-id': String(fd), online: '1', state: '1', ...d.back };
    for (const [k, v] of Object.entries(fents)) xs.write(`${frontend}/${k}`, v, t);
    for (const [k, v] of Object.entries(bents)) xs.write(`${backend}/${k}`, v, t);
    // dom0 is alone in the VMM: nothing can conflict with its own transaction.
    if (!xs.end(t)) throw new Error('xenstore: toolstack transaction conflicted');
  });
  return { frontend, backend };
}
