/**
 * Small pure helpers shared by the stub's layers: hex numbers and hex byte
 * strings as the remote protocol writes them (GDB manual, "Remote
 * Protocol › Overview": lowercase is what we send, either case is
 * accepted), and packets as "binary strings" (one char per byte, Latin-1),
 * which is how the command layer reads payloads that may carry raw binary
 * data (`X`, qXfer replies).
 */

const HEX_DIGITS = '0123456789abcdef';

/** Is `s` one or more hex digits? */
export function isHex(s: string): boolean {
  return /^[0-9a-fA-F]+$/.test(s);
}

/**
 * A hex number of at most 32 bits (leading zeros allowed, any length), or
 * null when `s` is empty, not hex, or too large.
 */
export function parseHex32(s: string): number | null {
  if (!isHex(s)) return null;
  const digits = s.replace(/^0+(?=.)/, '');
  if (digits.length > 8) return null;
  return parseInt(digits, 16);
}

/** Bytes from a hex string (two digits per byte), or null when malformed. */
export function hexToBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || (s.length > 0 && !isHex(s))) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

/** Lowercase hex digits of some bytes. */
export function bytesToHex(b: Uint8Array): string {
  // Node's native hex encoder when there is one (the stub's hot path: `m` replies).
  if (typeof Buffer !== 'undefined') return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const v = b[i]!;
    s += HEX_DIGITS[v >> 4]! + HEX_DIGITS[v & 15]!;
  }
  return s;
}

/** Two lowercase hex digits. */
export function hex8(v: number): string {
  return HEX_DIGITS[(v >> 4) & 15]! + HEX_DIGITS[v & 15]!;
}

/** A number as lowercase hex without leading zeros (ids, addresses in replies). */
export function hexNum(v: number): string {
  return (v >>> 0).toString(16);
}

/** The bytes of a binary string (each char's code is one byte; codes above 0xff are truncated). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** A binary string holding these bytes (one char per byte). */
export function latin1String(b: Uint8Array): string {
  let s = '';
  const CHUNK = 4096;
  for (let i = 0; i < b.length; i += CHUNK) {
    s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + CHUNK)));
  }
  return s;
}

/** Hex of a text's UTF-8 bytes (qRcmd output, `O` packets, qThreadExtraInfo). */
export function textToHex(text: string): string {
  return bytesToHex(new TextEncoder().encode(text));
}
