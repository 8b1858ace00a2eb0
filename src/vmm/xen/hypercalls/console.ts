/**
 * console_io (hypercall 18, PV and PVH): the hypervisor debug console
 * (reference §3.2 "Console", §3.4 (a)).
 *
 * Xen's rules (drivers/char/console.c, do_console_io) kept here:
 *  - CONSOLEIO_write(count, buf) copies `count` bytes from the guest and
 *    returns **0** (not the byte count). An unreadable buffer gives -EFAULT.
 *  - CONSOLEIO_read(count, buf) returns the number of bytes read; xenkit has
 *    no console input yet, so it returns 0. A count above INT_MAX gives
 *    -E2BIG (the result must not collide with negative errnos).
 *  - Any other command gives -ENOSYS.
 *
 * Deliberate differences from a release Xen:
 *  - Release Xen refuses CONSOLEIO_write from a domU with -EPERM (only debug
 *    builds allow it). xenkit behaves like a debug build: the kit's guests
 *    print through console_io first.
 *  - Xen strips non-printable characters and line-buffers domU output;
 *    xenkit passes the bytes through unchanged (the sink is the user's
 *    terminal or a test buffer, and XTF's CRLF line endings must survive).
 *  - Xen copies in 127-byte chunks and may have printed part of the text when
 *    it meets a bad page; xenkit reads the whole buffer first, so -EFAULT
 *    means nothing was printed.
 *  - Xen preempts long writes with a continuation; xenkit cannot restart a
 *    hypercall, so one call prints at most MAX_CONSOLE_WRITE bytes (the rest
 *    is dropped, still returning 0). Guests print far less per call.
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { CONSOLEIO } from '../abi/xen.js';
import { nameOf } from '../abi/layout.js';
import type { GuestAccess } from '../guest-access.js';
import type { Domain } from '../domain.js';

const BOTH = { pv: true, pvh: true } as const;
const { EFAULT, E2BIG, ENOSYS } = XEN_ERRNO;

/** Largest CONSOLEIO_write xenkit honours in one call (bytes). */
export const MAX_CONSOLE_WRITE = 64 * 1024;
const INT_MAX = 0x7fffffff;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** Printable preview of console text for traces. */
function preview(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x0a) s += '\\n';
    else if (b === 0x0d) s += '\\r';
    else if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return s;
}

export function describeConsoleIo(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, count = args[1]! >>> 0, buf = args[2]! >>> 0;
    const name = nameOf(CONSOLEIO, cmd) ?? `cmd ${cmd}`;
    if (cmd !== CONSOLEIO.write) return `${name} count=${count} buf=${hex(buf)}`;
    const shown = Math.min(count, 60);
    const text = guest.read(buf, shown);
    const body = text === null ? '(unreadable)' : `"${preview(text)}"${count > shown ? '...' : ''}`;
    return `write count=${count} ${body}`;
  } catch {
    return 'console_io (undecodable)';
  }
}

export function registerConsoleHypercalls(dom: Domain): void {
  dom.hypercalls.register({
    nr: 18, name: 'console_io', avail: BOTH,
    handler: ({ args, guest }) => {
      const cmd = args[0]! >>> 0, count = args[1]! >>> 0, buf = args[2]! >>> 0;
      switch (cmd) {
        case CONSOLEIO.write: {
          if (count === 0) return 0;
          const bytes = guest.read(buf, Math.min(count, MAX_CONSOLE_WRITE));
          if (bytes === null) return -EFAULT;
          dom.console.write(bytes);
          return 0;
        }
        case CONSOLEIO.read:
          // No console input exists yet: nothing to copy, 0 bytes read.
          return count > INT_MAX ? -E2BIG : 0;
        default:
          return -ENOSYS;
      }
    },
    describe: describeConsoleIo,
  });
}
