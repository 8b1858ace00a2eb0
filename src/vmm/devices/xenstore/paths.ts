/**
 * Paths and payload strings (docs/misc/xenstore.txt, introduction).
 *
 * Paths are '/'-separated and start with '/'; a path that does not is
 * relative to the caller's home, /local/domain/<domid>. Allowed bytes are
 * ASCII letters, digits and - / _ @; doubled and trailing slashes (except
 * the root "/") and the empty path are invalid. Limits: 3072 bytes
 * absolute, 2048 relative, and — for guests, like C xenstored — 2048 bytes
 * below a /local/domain/<id>/ prefix (or in all for other paths). Invalid
 * paths answer EINVAL.
 *
 * Payload strings are byte strings. They are carried as "binary" JS
 * strings (one char per byte, 0..255), so tokens and values survive a
 * round trip exactly whatever bytes the guest sends.
 */
import { XsError } from './errors.js';
import type { Caller } from './perms.js';
import type { XsLimits } from './limits.js';

/** Bytes → one-char-per-byte string (exact; not UTF-8, not windows-1252). */
export function bytesToBinary(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** One-char-per-byte string → bytes (chars above 0xff keep their low byte). */
export function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** NUL-separated strings of a payload; a final unterminated piece counts as a string. */
export function splitStrings(payload: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      out.push(bytesToBinary(payload.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < payload.length) out.push(bytesToBinary(payload.subarray(start)));
  return out;
}

/**
 * The single string argument of READ, MKDIR, RM, ... : the payload is
 * `<arg>|` (a missing final NUL is tolerated); anything else is EINVAL.
 */
export function oneArg(payload: Uint8Array): string {
  const end = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  const body = payload.subarray(0, end);
  if (body.includes(0)) throw new XsError('EINVAL', 'expected exactly one string argument');
  return bytesToBinary(body);
}

/** The caller's home: /local/domain/<domid>. */
export function homePath(domid: number): string {
  return `/local/domain/${domid}`;
}

const VALID = /^[A-Za-z0-9\-/_@]+$/;
const DOMAIN_PREFIX = /^\/local\/domain\/\d{1,5}\//;

/** Is `path` (absolute) syntactically valid and within the limits for `caller`? */
export function checkAbsolute(path: string, caller: Caller, lim: XsLimits): void {
  if (path.length > lim.maxAbsPath) throw new XsError('EINVAL', `path longer than ${lim.maxAbsPath} bytes`);
  if (!VALID.test(path)) throw new XsError('EINVAL', 'path contains invalid characters');
  if (path[0] !== '/') throw new XsError('EINVAL', 'path is not absolute');
  if (path !== '/' && (path.endsWith('/') || path.includes('//'))) throw new XsError('EINVAL', 'doubled or trailing slash');
  if (!caller.privileged) {
    const m = DOMAIN_PREFIX.exec(path);
    const below = path.length - (m ? m[0].length : 0);
    if (below > lim.maxRelPath) throw new XsError('EINVAL', `path longer than ${lim.maxRelPath} bytes below its domain`);
  }
}

/** Canonical absolute form of a request path (relative → under the caller's home). */
export function canonicalize(raw: string, caller: Caller, lim: XsLimits): { path: string; relative: boolean } {
  if (raw.length === 0) throw new XsError('EINVAL', 'empty path');
  if (raw[0] === '/') {
    checkAbsolute(raw, caller, lim);
    return { path: raw, relative: false };
  }
  if (raw.length > lim.maxRelPath) throw new XsError('EINVAL', `relative path longer than ${lim.maxRelPath} bytes`);
  const path = `${homePath(caller.domid)}/${raw}`;
  checkAbsolute(path, caller, lim);
  return { path, relative: true };
}

/** Parent of an absolute path ("/" for "/a"; "/" has none). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Last component of an absolute path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `child` below `parent`. */
export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** True when `path` is `ancestor` or lies below it (xenstore.txt's "child of"). */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === '/' || path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f);
}

/** A domid in decimal, 0..65535, as GET_DOMAIN_PATH and friends take it. */
export function parseDomid(s: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 0xffff) throw new XsError('EINVAL', `bad domid '${s.slice(0, 16)}'`);
  return Number(s);
}
