/**
 * The xenstore trace (`xenkit run --trace xenstore`): one line per request
 * a connection made and the reply it got, and one per watch event taken
 * for delivery — the xenbus handshake of a frontend, step by step:
 *
 *   [xs] dom1 READ "device/vbd/51712/backend" = "/local/domain/0/backend/vbd/1/51712"
 *   [xs] dom1 tx 3 WRITE "device/vbd/51712/state" "4" (Connected) = OK
 *   [xs] dom1 READ "device/vbd/51712/feature-persistent" = ENOENT
 *   [xs] dom1 <- WATCH_EVENT "/local/domain/0/backend/vbd/1/51712/state" "vbd0"
 *
 * Strings are shown quoted, bytes outside printable ASCII as \xNN, each
 * cut at 80 characters; a DIRECTORY reply lists at most 8 names; the value
 * of a `.../state` node gets its xenbus_state name. dom0 is the VMM's own
 * backends and toolstack.
 *
 * Pure: a record in, a string out.
 */
import { XS } from '../../xen/abi/xs-wire.js';
import { nameOf } from '../../xen/abi/layout.js';
import { xenbusStateName } from '../../xen/abi/xenbus.js';
import type { XsTraceRecord } from './server.js';

/** Prefix of every xenstore trace line. */
export const XS_TRACE_PREFIX = '[xs] ';

const MAX_STRING = 80;
const MAX_NAMES = 8;

/** `bytes` as a quoted string: printable ASCII as is, `"` and `\` escaped, the rest \xNN; cut at MAX_STRING. */
export function quote(bytes: Uint8Array): string {
  let s = '';
  const n = Math.min(bytes.length, MAX_STRING);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${s}"${bytes.length > MAX_STRING ? '…' : ''}`;
}

/** The NUL-terminated strings of a payload (a last one without its NUL included). */
function strings(p: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      out.push(p.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < p.length) out.push(p.subarray(start));
  return out;
}

/** ` (Connected)` when `path` is a xenbus state node and `value` one of the states (io/xenbus.h), else ''. */
function stateName(path: Uint8Array, value: Uint8Array): string {
  const p = new TextDecoder('latin1').decode(path);
  if (!p.endsWith('/state') || value.length !== 1 || value[0]! < 0x30 || value[0]! > 0x39) return '';
  const name = xenbusStateName(value[0]! - 0x30);
  return name === undefined ? '' : ` (${name})`;
}

/** The request's arguments: WRITE's value is raw bytes after the path, every other payload NUL-separated strings. */
function requestArgs(type: number, p: Uint8Array): string {
  if (type === XS.TRANSACTION_START) return '';
  if (type === XS.WRITE) {
    const nul = p.indexOf(0);
    if (nul < 0) return quote(p);
    const path = p.subarray(0, nul), value = p.subarray(nul + 1);
    return `${quote(path)} ${quote(value)}${stateName(path, value)}`;
  }
  return strings(p).map(quote).join(' ');
}

/** The reply: an errno name, READ's value, DIRECTORY's names, a transaction id, or OK. */
function replyText(requestType: number, request: Uint8Array, type: number, p: Uint8Array): string {
  const parts = strings(p);
  if (type === XS.ERROR) return new TextDecoder('latin1').decode(parts[0] ?? p);
  switch (requestType) {
    case XS.READ:
      return `${quote(p)}${stateName(strings(request)[0] ?? request, p)}`;
    case XS.DIRECTORY: {
      const names = parts.map(quote);
      return `[${names.slice(0, MAX_NAMES).join(', ')}${names.length > MAX_NAMES ? `, … ${names.length - MAX_NAMES} more` : ''}]`;
    }
    case XS.TRANSACTION_START:
      return `tx ${new TextDecoder('latin1').decode(parts[0] ?? p)}`;
    case XS.GET_DOMAIN_PATH:
    case XS.GET_PERMS:
    case XS.IS_DOMAIN_INTRODUCED:
      return parts.map(quote).join(' ');
    default:
      return 'OK';
  }
}

/** One trace line (without its newline). */
export function formatXsTrace(r: XsTraceRecord): string {
  if (r.kind === 'event') return `${XS_TRACE_PREFIX}dom${r.domid} <- WATCH_EVENT ${strings(r.payload).map(quote).join(' ')}`;
  const name = nameOf(XS, r.type) ?? `type ${r.type}`;
  const tx = r.txId !== 0 ? `tx ${r.txId} ` : '';
  const args = requestArgs(r.type, r.payload);
  const result = r.reply === null ? '(connection closed)' : replyText(r.type, r.payload, r.reply.type, r.reply.payload);
  return `${XS_TRACE_PREFIX}dom${r.domid} ${tx}${name}${args !== '' ? ` ${args}` : ''} = ${result}`;
}
