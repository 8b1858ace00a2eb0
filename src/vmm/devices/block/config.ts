/**
 * Virtual disk configuration, pure: the `--disk PATH[,ro][,vdev=xvdb]`
 * option's value, and virtual device names as xenstore device ids
 * (reference §6 "vbd devid"; Xen's docs/misc/vbd-interface.txt):
 *
 *   xvd<disk>[part]  disk < 16, part < 16:  202 << 8 | disk << 4 | part
 *                    (xvda = 51712, xvdb = 51728)
 *                    otherwise (part < 256): 1 << 28 | disk << 8 | part
 *   hd[a-d][part]    3 << 8 (hda, hdb: + 64) / 22 << 8 (hdc, hdd: + 64), part < 64
 *   sd[a-p][part]    8 << 8 | disk << 4 | part, part < 16
 *   a decimal number is the device id itself.
 *
 * Disk letters count like spreadsheet columns: a..z, aa..az, ba….
 */

/** One `--disk` as given. */
export interface DiskSpec {
  readonly path: string;
  readonly readonly: boolean;
  /** The vdev name as written, if any. */
  readonly vdev?: string;
}

/** A disk with its device id settled. */
export interface DiskConfig extends DiskSpec {
  readonly vdev: string;
  readonly devid: number;
}

/** A bad --disk value or vdev name (a user error; the CLI reports the message). */
export class DiskConfigError extends Error {
  readonly code = 'EDISKCONFIG';
}

/** Parse `PATH[,ro][,rw][,vdev=NAME]`. */
export function parseDiskSpec(text: string): DiskSpec {
  const [path = '', ...opts] = text.split(',');
  if (path === '') throw new DiskConfigError(`--disk ${JSON.stringify(text)}: missing image path`);
  let readonly = false;
  let vdev: string | undefined;
  for (const o of opts) {
    if (o === 'ro') readonly = true;
    else if (o === 'rw') readonly = false;
    else if (o.startsWith('vdev=')) {
      vdev = o.slice(5);
      vdevToDevid(vdev); // validate now
    } else throw new DiskConfigError(`--disk ${JSON.stringify(text)}: unknown option ${JSON.stringify(o)} (expected ro, rw or vdev=NAME)`);
  }
  return vdev === undefined ? { path, readonly } : { path, readonly, vdev };
}

/** Disk letters → index: a = 0, z = 25, aa = 26. */
function letters(s: string): number {
  let n = 0;
  for (const c of s) n = n * 26 + (c.charCodeAt(0) - 96);
  return n - 1;
}

/** Index → disk letters (0 → "a"). */
export function diskLetters(index: number): string {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

/** The xenstore device id of a vdev name (see the header). */
export function vdevToDevid(vdev: string): number {
  const bad = (why: string): never => {
    throw new DiskConfigError(`vdev ${JSON.stringify(vdev)}: ${why}`);
  };
  if (/^[0-9]{1,10}$/.test(vdev)) {
    const n = Number(vdev);
    if (n <= 0 || n >= 2 ** 31) bad('device id out of range');
    return n;
  }
  const m = /^(xvd|hd|sd)([a-z]{1,3})([0-9]{0,3})$/.exec(vdev);
  if (m === null) return bad('expected xvdX, hdX, sdX or a device number');
  const [, kind, ls, ps] = m as unknown as [string, string, string, string];
  const disk = letters(ls);
  const part = ps === '' ? 0 : Number(ps);
  if (ps.length > 1 && ps.startsWith('0')) bad('partition with a leading zero');
  switch (kind) {
    case 'xvd':
      if (disk < 16 && part < 16) return (202 << 8) | (disk << 4) | part;
      if (part > 255) bad('partition above 255');
      if (disk >= 1 << 20) bad('disk number too large');
      return (1 << 28) | (disk << 8) | part;
    case 'hd':
      if (disk > 3) bad('IDE disks are hda..hdd');
      if (part > 63) bad('IDE partition above 63');
      return ((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | part;
    default:
      if (disk > 15) bad('SCSI disks are sda..sdp');
      if (part > 15) bad('SCSI partition above 15');
      return (8 << 8) | (disk << 4) | part;
  }
}

/**
 * Settle the vdev of every disk: the n-th disk without one gets the first
 * free xvd name from xvda on. Two disks on one device id are an error.
 */
export function assignDisks(specs: readonly DiskSpec[]): DiskConfig[] {
  const used = new Map<number, string>();
  for (const s of specs) {
    if (s.vdev === undefined) continue;
    const id = vdevToDevid(s.vdev);
    const prev = used.get(id);
    if (prev !== undefined) throw new DiskConfigError(`two disks on one device: ${prev} and ${s.vdev}`);
    used.set(id, s.vdev);
  }
  let next = 0;
  return specs.map((s) => {
    if (s.vdev !== undefined) return { ...s, vdev: s.vdev, devid: vdevToDevid(s.vdev) };
    let name: string;
    do name = `xvd${diskLetters(next++)}`; while (used.has(vdevToDevid(name)));
    const devid = vdevToDevid(name);
    used.set(devid, name);
    return { ...s, vdev: name, devid };
  });
}
