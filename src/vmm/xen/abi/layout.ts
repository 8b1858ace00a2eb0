/**
 * The vocabulary of the ABI modules: C struct layouts and named C
 * constants as frozen data, plus a little-endian codec over the layouts.
 *
 * A layout describes one struct (or union) of Xen's x86_32 guest ABI:
 *
 *     export const SCHED_POLL = struct('struct sched_poll', 16, {
 *       ports: [0, 'ptr'], nr_ports: [4, 'u32'], timeout: [8, 'u64'],
 *     });
 *     SCHED_POLL.size             // 16
 *     SCHED_POLL.fields.timeout   // 8   (offset)
 *     SCHED_POLL.specs.timeout    // [8, 'u64']
 *
 * Field names are C member designators, so nested members read
 * 'console.domU.mfn' and tests/xen/abi-layout.test.ts can turn every
 * field into `offsetof(struct X, <name>)` verbatim and check it — and the
 * member's size and signedness — against the guest headers in
 * templates/minios/include/xen with gcc -m32.
 *
 * Constants come in two forms, both probed against the C headers:
 *  - a plain `export const NAME = value` whose export name IS the C name;
 *  - a group `export const SCHEDOP = constants('SCHEDOP_', { yield: 0, … })`
 *    whose C names are prefix + key (SCHEDOP_yield). Groups give the VMM
 *    `SCHEDOP.shutdown` and reverse lookup with nameOf().
 * Any exported number or bigint must therefore exist in C under that
 * name. Values that have no C counterpart live inside plain objects
 * (not groups), which the probe ignores.
 *
 * Pure data and pure functions; nothing here touches the CPU or memory.
 */

/** Scalar C member types. 'ptr' is a 4-byte guest pointer (a guest handle). */
export type Scalar = 'u8' | 'i8' | 'char' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'ptr';
/** A C array of scalars, e.g. 'u32[32]'. */
export type ScalarArray = `${Scalar}[${number}]`;
/** An anonymous aggregate (inline union/struct) of n bytes, e.g. 'blob[8]'. */
export type Blob = `blob[${number}]`;
export type FieldType = Scalar | ScalarArray | Blob;

/** [offset, type] — or [offset, nested layout, array count?] for a named struct member. */
export type FieldSpec =
  | readonly [offset: number, type: FieldType]
  | readonly [offset: number, type: Layout, count?: number];

export type Specs = { readonly [name: string]: FieldSpec };

export interface Layout<S extends Specs = Specs> {
  /** The C type, e.g. 'struct start_info' or 'union grant_entry_v2'. */
  readonly cname: string;
  /** sizeof() on x86_32. */
  readonly size: number;
  /** Field designator → byte offset. */
  readonly fields: { readonly [K in keyof S]: number };
  /** Field designator → [offset, type, count?]. */
  readonly specs: S;
  /** True for layouts xenkit adds that Xen's public headers do not declare. */
  readonly xenkitOnly: boolean;
}

const SCALAR_WIDTH: Readonly<Record<Scalar, number>> = {
  u8: 1, i8: 1, char: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8, ptr: 4,
};

/** Parsed form of a FieldType string. */
export interface ParsedType {
  readonly kind: 'scalar' | 'array' | 'blob';
  /** Element scalar (for 'blob': 'u8'). */
  readonly scalar: Scalar;
  /** Element count (1 for a scalar). */
  readonly count: number;
  /** Total bytes. */
  readonly bytes: number;
}

export function parseType(t: FieldType): ParsedType {
  if (t in SCALAR_WIDTH) {
    const s = t as Scalar;
    return { kind: 'scalar', scalar: s, count: 1, bytes: SCALAR_WIDTH[s] };
  }
  const m = /^([a-z0-9]+)\[(\d+)\]$/.exec(t);
  if (!m) throw new Error(`bad field type '${t}'`);
  const n = Number(m[2]);
  if (m[1] === 'blob') return { kind: 'blob', scalar: 'u8', count: n, bytes: n };
  if (!(m[1]! in SCALAR_WIDTH)) throw new Error(`bad field type '${t}'`);
  const s = m[1] as Scalar;
  return { kind: 'array', scalar: s, count: n, bytes: n * SCALAR_WIDTH[s] };
}

/** Bytes a field occupies. */
export function fieldBytes(spec: FieldSpec): number {
  const t = spec[1];
  if (typeof t === 'string') return parseType(t).bytes;
  return t.size * (spec[2] ?? 1);
}

/**
 * Declare a layout. Throws at module load if a field does not fit in
 * `size` — a typo in an ABI table should fail loudly, not at run time.
 */
export function struct<const S extends Specs>(
  cname: string,
  size: number,
  specs: S,
  opts: { xenkitOnly?: boolean } = {},
): Layout<S> {
  const fields: Record<string, number> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const [off] = spec;
    const bytes = fieldBytes(spec);
    if (!Number.isInteger(off) || off < 0 || off + bytes > size) {
      throw new Error(`${cname}.${name}: [${off}, +${bytes}) does not fit in ${size} bytes`);
    }
    fields[name] = off;
  }
  return Object.freeze({
    cname,
    size,
    fields: Object.freeze(fields) as { readonly [K in keyof S]: number },
    specs: Object.freeze(specs),
    xenkitOnly: opts.xenkitOnly ?? false,
  });
}

export function isLayout(x: unknown): x is Layout {
  return typeof x === 'object' && x !== null && typeof (x as Layout).cname === 'string' &&
    typeof (x as Layout).size === 'number' && typeof (x as Layout).specs === 'object';
}

// ---------------------------------------------------------------------------
// Constant groups

interface GroupInfo { readonly prefix: string; readonly xenkitOnly: boolean }
const GROUPS = new WeakMap<object, GroupInfo>();

/**
 * Declare a group of C constants sharing a prefix: the C name of key k is
 * `prefix + k`. Values are numbers, or bigints for 64-bit constants.
 */
export function constants<const T extends { readonly [k: string]: number | bigint }>(
  prefix: string,
  values: T,
  opts: { xenkitOnly?: boolean } = {},
): Readonly<T> {
  const frozen = Object.freeze({ ...values });
  GROUPS.set(frozen, { prefix, xenkitOnly: opts.xenkitOnly ?? false });
  return frozen;
}

/** The C prefix of a constant group, or undefined if `x` is not one. */
export function groupInfo(x: unknown): GroupInfo | undefined {
  return typeof x === 'object' && x !== null ? GROUPS.get(x) : undefined;
}

/** The first key of `group` whose value is `value` (reverse lookup). */
export function nameOf<T extends { readonly [k: string]: number | bigint }>(
  group: T,
  value: number | bigint,
): (keyof T & string) | undefined {
  for (const [k, v] of Object.entries(group)) if (v === value) return k;
  return undefined;
}

// ---------------------------------------------------------------------------
// Codec

type ValueOf<T> = T extends 'u64' | 'i64' ? bigint : T extends Scalar ? number : Uint8Array;

/** A decoded struct: numbers for ≤32-bit scalars and pointers, bigints for
 *  64-bit scalars, byte copies for arrays and nested aggregates. */
export type Decoded<S extends Specs> = { -readonly [K in keyof S]: ValueOf<S[K][1]> };

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function getScalar(dv: DataView, at: number, s: Scalar): number | bigint {
  switch (s) {
    case 'u8': return dv.getUint8(at);
    case 'i8': case 'char': return dv.getInt8(at);
    case 'u16': return dv.getUint16(at, true);
    case 'i16': return dv.getInt16(at, true);
    case 'u32': case 'ptr': return dv.getUint32(at, true);
    case 'i32': return dv.getInt32(at, true);
    case 'u64': return dv.getBigUint64(at, true);
    case 'i64': return dv.getBigInt64(at, true);
  }
}

function setScalar(dv: DataView, at: number, s: Scalar, v: number | bigint): void {
  switch (s) {
    case 'u8': case 'i8': case 'char': dv.setUint8(at, Number(v) & 0xff); return;
    case 'u16': case 'i16': dv.setUint16(at, Number(v) & 0xffff, true); return;
    case 'u32': case 'i32': case 'ptr': dv.setUint32(at, Number(v) >>> 0, true); return;
    case 'u64': case 'i64': dv.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true); return;
  }
}

/** Decode every field of `layout` from `buf` at byte offset `at`. */
export function decode<S extends Specs>(layout: Layout<S>, buf: Uint8Array, at = 0): Decoded<S> {
  if (at < 0 || at + layout.size > buf.length) {
    throw new RangeError(`${layout.cname}: ${layout.size} bytes at ${at} exceed a ${buf.length}-byte buffer`);
  }
  const dv = view(buf);
  const out: Record<string, number | bigint | Uint8Array> = {};
  for (const [name, spec] of Object.entries(layout.specs)) {
    const off = at + spec[0];
    const t = spec[1];
    if (typeof t === 'string') {
      const p = parseType(t);
      out[name] = p.kind === 'scalar' ? getScalar(dv, off, p.scalar) : buf.slice(off, off + p.bytes);
    } else {
      out[name] = buf.slice(off, off + fieldBytes(spec));
    }
  }
  return out as Decoded<S>;
}

/**
 * Write the given fields of `layout` into `buf` at byte offset `at`.
 * Fields not named are left untouched; array/aggregate values must be
 * byte arrays of exactly the field's size.
 */
export function encode<S extends Specs>(
  layout: Layout<S>,
  values: Partial<Decoded<S>>,
  buf: Uint8Array,
  at = 0,
): void {
  if (at < 0 || at + layout.size > buf.length) {
    throw new RangeError(`${layout.cname}: ${layout.size} bytes at ${at} exceed a ${buf.length}-byte buffer`);
  }
  const dv = view(buf);
  for (const [name, v] of Object.entries(values as Record<string, number | bigint | Uint8Array | undefined>)) {
    if (v === undefined) continue;
    const spec = layout.specs[name];
    if (!spec) throw new Error(`${layout.cname} has no field '${name}'`);
    const off = at + spec[0];
    const t = spec[1];
    if (v instanceof Uint8Array) {
      const bytes = fieldBytes(spec);
      if (v.length !== bytes) throw new RangeError(`${layout.cname}.${name}: ${v.length} bytes given, field has ${bytes}`);
      buf.set(v, off);
    } else if (typeof t === 'string' && parseType(t).kind === 'scalar') {
      setScalar(dv, off, parseType(t).scalar, v);
    } else {
      throw new TypeError(`${layout.cname}.${name}: an aggregate field takes a Uint8Array`);
    }
  }
}
