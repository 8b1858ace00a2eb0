/**
 * Disk configuration (src/vmm/devices/block/config.ts): the `--disk`
 * option's syntax and vdev names as Xen's device ids
 * (docs/misc/vbd-interface.txt).
 */
import { describe, expect, it } from 'vitest';
import { DiskConfigError, assignDisks, diskLetters, parseDiskSpec, vdevToDevid } from '../../../src/vmm/devices/block/config.js';

describe('parseDiskSpec', () => {
  it('reads PATH[,ro][,vdev=NAME]', () => {
    expect(parseDiskSpec('a.img')).toEqual({ path: 'a.img', readonly: false });
    expect(parseDiskSpec('/x/b.img,ro')).toEqual({ path: '/x/b.img', readonly: true });
    expect(parseDiskSpec('c.img,vdev=xvdb,ro')).toEqual({ path: 'c.img', readonly: true, vdev: 'xvdb' });
    expect(parseDiskSpec('c.img,ro,rw')).toEqual({ path: 'c.img', readonly: false });
  });

  it('refuses empty paths, unknown options and bad vdevs', () => {
    expect(() => parseDiskSpec('')).toThrow(DiskConfigError);
    expect(() => parseDiskSpec(',ro')).toThrow(/missing image path/);
    expect(() => parseDiskSpec('a.img,rx')).toThrow(/unknown option "rx"/);
    expect(() => parseDiskSpec('a.img,vdev=floppy')).toThrow(/vdev "floppy"/);
  });
});

describe('vdevToDevid', () => {
  it('follows vbd-interface.txt', () => {
    expect(vdevToDevid('xvda')).toBe(51712);
    expect(vdevToDevid('xvdb')).toBe(51728);
    expect(vdevToDevid('xvda1')).toBe(51713);
    expect(vdevToDevid('xvdp15')).toBe((202 << 8) | (15 << 4) | 15);
    expect(vdevToDevid('xvdq')).toBe((1 << 28) | (16 << 8));
    expect(vdevToDevid('xvda16')).toBe((1 << 28) | 16);
    expect(vdevToDevid('xvdaa')).toBe((1 << 28) | (26 << 8));
    expect(vdevToDevid('hda')).toBe(768);
    expect(vdevToDevid('hdb')).toBe(832);
    expect(vdevToDevid('hdc2')).toBe((22 << 8) | 2);
    expect(vdevToDevid('hdd')).toBe((22 << 8) | 64);
    expect(vdevToDevid('sda')).toBe(2048);
    expect(vdevToDevid('sdb3')).toBe(2048 + 16 + 3);
    expect(vdevToDevid('51712')).toBe(51712);
  });

  it.each(['', 'xvd', 'xvdA', 'xvda01', 'xvda256', 'hde', 'hda64', 'sdq', 'sda16', '0', '99999999999', 'vda'])('refuses %j', (v) => {
    expect(() => vdevToDevid(v)).toThrow(DiskConfigError);
  });

  it('counts disk letters like spreadsheet columns', () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702].map(diskLetters)).toEqual(['a', 'b', 'z', 'aa', 'ab', 'az', 'ba', 'zz', 'aaa']);
  });
});

describe('assignDisks', () => {
  it('gives unnamed disks the first free xvd names, in order', () => {
    const d = assignDisks([{ path: 'a', readonly: false }, { path: 'b', readonly: true, vdev: 'xvda' }, { path: 'c', readonly: false }]);
    expect(d.map((x) => [x.path, x.vdev, x.devid])).toEqual([['a', 'xvdb', 51728], ['b', 'xvda', 51712], ['c', 'xvdc', 51744]]);
  });

  it('refuses two disks on one device, however spelled', () => {
    expect(() => assignDisks([{ path: 'a', readonly: false, vdev: 'xvda' }, { path: 'b', readonly: false, vdev: '51712' }])).toThrow(/two disks on one device/);
  });
});
