/**
 * Disassembler for decoded instructions (Intel syntax), for traces and
 * crash reports.
 *
 * `disassemble` turns an `Insn` back into text such as
 * `mov dword ptr [ebx+esi*4+0x10], eax` using only the decoded fields:
 * the mnemonic comes from the instruction's OpDef (or, for SSE/MMX forms
 * whose mnemonic depends on the mandatory prefix, from families/fpu.ts),
 * the operands from an operand-shape pattern. The layout follows
 * `objdump -M intel` (lower case, hex immediates, `ds:0x1234` for absolute
 * addresses, `+0x0` for an explicit zero displacement) so that output can
 * be compared with binutils, except that operands are separated by ", ".
 *
 * Operand shapes (OpDef.operands, or the built-in map below, which follows
 * Intel SDM vol. 2 appendix A tables A-2/A-3/A-6 for defs that have none)
 * are comma-separated codes in the SDM's notation, an addressing method
 * letter followed by an operand type:
 *
 *   methods  E r/m   G reg   M memory only   R r/m register   I immediate
 *            J relative target   A far pointer   O moffs   S segment reg
 *            C control reg   D debug reg   X DS:(E)SI   Y ES:(E)DI
 *            V xmm reg   W xmm/m   U xmm r/m   P mm reg   Q mm/m   N mm r/m
 *            Z general register in the opcode's low 3 bits (an extension)
 *   types    b byte  w word  d dword  q qword  t tbyte (x87 m80)  v/z word
 *            or dword by operand size  y dword  p far pointer  s pseudo-
 *            descriptor  a BOUND pair  e x87 environment (no size keyword)
 *            x/dq/ps/pd xmmword  ss dword  sd qword  bs imm8 sign-extended
 *            to the operand size  dw/db/vw register of 32 bits (vw: operand
 *            size) but memory of a word/byte (PINSRW, SLDT, MOV Sreg)
 *   literals AL CL DX AX eAX (EAX or AX) 1 ST STi (ST(rm)) XMM0, segment
 *            names ES CS SS DS FS GS, and XLAT (byte ptr ds:[ebx+al]).
 *
 * A def with no shape anywhere is printed as its mnemonic plus the raw
 * instruction bytes when the caller supplies them. Nothing here runs on
 * the execution path.
 */
import { SEG_NAMES } from './cpu.js';
import type { Insn } from './insn.js';
import { NOW3D, simdForm } from './families/fpu.js';

/** Options for `disassemble`. */
export interface DisasmOptions {
  /** The code segment was 32-bit when decoded (default true); decides whether a 66 prefix was present. */
  readonly code32?: boolean;
  /** The instruction's bytes, printed when no operand shape is known. */
  readonly bytes?: Uint8Array;
}

const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const SIZE_KW: Readonly<Record<number, string>> = {
  1: 'byte', 2: 'word', 4: 'dword', 6: 'fword', 8: 'qword', 10: 'tbyte', 16: 'xmmword',
};

// --- the built-in operand map (SDM vol. 2 appendix A) ------------------------------------

type Shape = string | readonly string[];

const ONE: Record<number, Shape> = {};
const TWO: Record<number, Shape> = {};
(() => {
  for (let k = 0; k < 8; k++) {
    const b = k << 3;
    ONE[b] = 'Eb,Gb'; ONE[b + 1] = 'Ev,Gv'; ONE[b + 2] = 'Gb,Eb'; ONE[b + 3] = 'Gv,Ev';
    ONE[b + 4] = 'AL,Ib'; ONE[b + 5] = 'eAX,Iz';
    ONE[0x40 + k] = 'Zv'; ONE[0x48 + k] = 'Zv'; ONE[0x50 + k] = 'Zv'; ONE[0x58 + k] = 'Zv';
    ONE[0xb0 + k] = 'Zb,Ib'; ONE[0xb8 + k] = 'Zv,Iv';
    if (k > 0) ONE[0x90 + k] = 'Zv,eAX';
    TWO[0xc8 + k] = 'Zd';
  }
  for (let cc = 0; cc < 16; cc++) {
    ONE[0x70 + cc] = 'Jb';
    TWO[0x80 + cc] = 'Jz';
    TWO[0x40 + cc] = 'Gv,Ev';
    TWO[0x90 + cc] = 'Eb';
  }
  // Forms without operands (so they are not printed with raw bytes).
  for (const b of [0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x90, 0x98, 0x99, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xc3, 0xc9,
    0xcb, 0xcc, 0xce, 0xcf, 0xd6, 0xf1, 0xf4, 0xf5, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd]) ONE[b] = '';
  for (const b of [0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xa2, 0xaa]) TWO[b] = '';
  Object.assign(ONE, {
    0x06: 'ES', 0x07: 'ES', 0x0e: 'CS', 0x16: 'SS', 0x17: 'SS', 0x1e: 'DS', 0x1f: 'DS',
    0x62: 'Gv,Ma', 0x63: 'Ew,Gw', 0x68: 'Iz', 0x69: 'Gv,Ev,Iz', 0x6a: 'Ibs', 0x6b: 'Gv,Ev,Ibs',
    0x6c: 'Yb,DX', 0x6d: 'Yz,DX', 0x6e: 'DX,Xb', 0x6f: 'DX,Xz',
    0x80: 'Eb,Ib', 0x81: 'Ev,Iz', 0x82: 'Eb,Ib', 0x83: 'Ev,Ibs',
    0x84: 'Eb,Gb', 0x85: 'Ev,Gv', 0x86: 'Eb,Gb', 0x87: 'Ev,Gv',
    0x88: 'Eb,Gb', 0x89: 'Ev,Gv', 0x8a: 'Gb,Eb', 0x8b: 'Gv,Ev', 0x8c: 'Evw,Sw', 0x8d: 'Gv,M', 0x8e: 'Sw,Evw', 0x8f: 'Ev',
    0x9a: 'Ap',
    0xa0: 'AL,Ob', 0xa1: 'eAX,Ov', 0xa2: 'Ob,AL', 0xa3: 'Ov,eAX',
    0xa4: 'Yb,Xb', 0xa5: 'Yv,Xv', 0xa6: 'Xb,Yb', 0xa7: 'Xv,Yv', 0xa8: 'AL,Ib', 0xa9: 'eAX,Iz',
    0xaa: 'Yb,AL', 0xab: 'Yv,eAX', 0xac: 'AL,Xb', 0xad: 'eAX,Xv', 0xae: 'AL,Yb', 0xaf: 'eAX,Yv',
    0xc0: 'Eb,Ib', 0xc1: 'Ev,Ib', 0xc2: 'Iw', 0xc4: 'Gv,Mp', 0xc5: 'Gv,Mp', 0xc6: 'Eb,Ib', 0xc7: 'Ev,Iz',
    0xc8: 'Iw,Ib', 0xca: 'Iw', 0xcd: 'Ib',
    0xd0: 'Eb,1', 0xd1: 'Ev,1', 0xd2: 'Eb,CL', 0xd3: 'Ev,CL', 0xd4: 'Ib', 0xd5: 'Ib', 0xd7: 'XLAT',
    0xe0: 'Jb', 0xe1: 'Jb', 0xe2: 'Jb', 0xe3: 'Jb', 0xe4: 'AL,Ib', 0xe5: 'eAX,Ib', 0xe6: 'Ib,AL', 0xe7: 'Ib,eAX',
    0xe8: 'Jz', 0xe9: 'Jz', 0xea: 'Ap', 0xeb: 'Jb', 0xec: 'AL,DX', 0xed: 'eAX,DX', 0xee: 'DX,AL', 0xef: 'DX,eAX',
    0xf6: ['Eb,Ib', 'Eb,Ib', 'Eb', 'Eb', 'Eb', 'Eb', 'Eb', 'Eb'],
    0xf7: ['Ev,Iz', 'Ev,Iz', 'Ev', 'Ev', 'Ev', 'Ev', 'Ev', 'Ev'],
    0xfe: 'Eb', 0xff: ['Ev', 'Ev', 'Ev', 'Mp', 'Ev', 'Mp', 'Ev', ''],
  });
  Object.assign(TWO, {
    0x00: ['Evw', 'Evw', 'Ew', 'Ew', 'Ew', 'Ew', '', ''],
    0x02: 'Gv,Ew', 0x03: 'Gv,Ew',
    0x20: 'Rd,Cd', 0x21: 'Rd,Dd', 0x22: 'Cd,Rd', 0x23: 'Dd,Rd',
    0xa0: 'FS', 0xa1: 'FS', 0xa3: 'Ev,Gv', 0xa4: 'Ev,Gv,Ib', 0xa5: 'Ev,Gv,CL',
    0xa8: 'GS', 0xa9: 'GS', 0xab: 'Ev,Gv', 0xac: 'Ev,Gv,Ib', 0xad: 'Ev,Gv,CL', 0xaf: 'Gv,Ev',
    0xb2: 'Gv,Mp', 0xb3: 'Ev,Gv', 0xb4: 'Gv,Mp', 0xb5: 'Gv,Mp', 0xb6: 'Gv,Eb', 0xb7: 'Gv,Ew',
    0xb8: 'Gv,Ev', 0xba: ['', '', '', '', 'Ev,Ib', 'Ev,Ib', 'Ev,Ib', 'Ev,Ib'], 0xbb: 'Ev,Gv',
    0xbc: 'Gv,Ev', 0xbd: 'Gv,Ev', 0xbe: 'Gv,Eb', 0xbf: 'Gv,Ew',
  });
})();

/** 0F 01 (group 7): memory forms by reg; register forms have no operands except SMSW/LMSW. */
const GRP7_MEM = ['Ms', 'Ms', 'Ms', 'Ms', 'Evw', '', 'Ew', 'Mb'];
const GRP7_REG = ['', '', '', '', 'Evw', '', 'Ew', ''];

/** The operand shape for `i` from the built-in map, or undefined. */
function builtinShape(i: Insn): string | undefined {
  const op = i.op;
  let s: Shape | undefined;
  if (op < 0x100) s = ONE[op];
  else if ((op & ~0xff) === 0x0f00) {
    if (op === 0x0f01) return (i.mod === 3 ? GRP7_REG : GRP7_MEM)[i.reg];
    s = TWO[op & 0xff];
  }
  if (s === undefined) return undefined;
  return typeof s === 'string' ? s : s[i.reg];
}

// --- mnemonic adjustments --------------------------------------------------------------

/** 16-bit / 32-bit operand-size mnemonic pairs. */
const SIZE_PAIRS: readonly (readonly [string, string])[] = [
  ['cbw', 'cwde'], ['cwd', 'cdq'], ['pusha', 'pushad'], ['popa', 'popad'], ['pushf', 'pushfd'], ['popf', 'popfd'],
  ['iret', 'iretd'], ['movsw', 'movsd'], ['cmpsw', 'cmpsd'], ['stosw', 'stosd'], ['lodsw', 'lodsd'],
  ['scasw', 'scasd'], ['insw', 'insd'], ['outsw', 'outsd'],
];
const SIZE_MAP = new Map<string, readonly [string, string]>();
for (const p of SIZE_PAIRS) { SIZE_MAP.set(p[0], p); SIZE_MAP.set(p[1], p); }

const CMP_PRED = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord'];
const PCLMUL: Readonly<Record<number, string>> = { 0x00: 'lqlq', 0x01: 'hqlq', 0x10: 'lqhq', 0x11: 'hqhq' };
const STRING_OPS = new Set([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]);

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

// --- operand rendering -------------------------------------------------------------------

/** Byte size of operand type `t` (0: no size keyword). */
function typeSize(t: string, osize: number): number {
  switch (t) {
    case 'b': case 'db': case 'bs': return 1;
    case 'w': case 'dw': case 'vw': return 2;
    case 'd': case 'y': case 'ss': return 4;
    case 'q': case 'sd': case 'pi': return 8;
    case 't': return 10;
    case 'x': case 'dq': case 'ps': case 'pd': return 16;
    case 'v': case 'z': return osize;
    case 'p': return osize + 2;
    case 'a': return osize * 2;
    default: return 0; // '', 'e', 's': no keyword
  }
}

/** Register-operand size of type `t` (the dw/db/vw types use a wider register than their memory form). */
function regSize(t: string, osize: number): number {
  if (t === 'dw' || t === 'db') return 4;
  if (t === 'vw') return osize;
  return typeSize(t, osize) || 4;
}

function gpr(n: number, size: number): string {
  return size === 1 ? R8[n]! : size === 2 ? R16[n]! : R32[n]!;
}

/** `[base+index*scale+disp]` (or `seg:disp` for an absolute address) with an optional segment prefix. */
function memExpr(i: Insn, forceSeg: boolean): string {
  const segName = SEG_NAMES[i.seg]!;
  const regs = i.a16 ? R16 : R32;
  if (i.base < 0 && i.index < 0) {
    return `${segName}:${hex(i.a16 ? i.disp & 0xffff : i.disp)}`;
  }
  let s = '';
  if (i.base >= 0) s = regs[i.base]!;
  if (i.index >= 0) s += `${s ? '+' : ''}${regs[i.index]!}${i.a16 ? '' : `*${1 << i.scale}`}`;
  let d = i.disp;
  if (i.a16) d = (d << 16) >> 16;
  const explicit = i.mod === 1 || i.mod === 2 || i.base < 0;
  if (d !== 0 || explicit) s += d < 0 ? `-${hex(-d)}` : `+${hex(d)}`;
  const prefix = i.segOverride || forceSeg ? `${segName}:` : '';
  return `${prefix}[${s}]`;
}

function sized(size: number, expr: string): string {
  const kw = SIZE_KW[size];
  return kw ? `${kw} ptr ${expr}` : expr;
}

/** Render one operand code. `immIdx` counts immediates already printed (ENTER's second is imm2). */
function operand(i: Insn, code: string, osize: number, immIdx: number): string {
  switch (code) {
    case 'AL': return 'al';
    case 'CL': return 'cl';
    case 'DX': return 'dx';
    case 'AX': return 'ax';
    case 'eAX': return osize === 2 ? 'ax' : 'eax';
    case '1': return '1';
    case 'ST': return 'st';
    case 'STi': return `st(${i.rm})`;
    case 'XMM0': return 'xmm0';
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return code.toLowerCase();
    case 'XLAT': {
      const seg = SEG_NAMES[i.seg]!;
      return `byte ptr ${seg}:[${i.a16 ? 'bx' : 'ebx'}]`;
    }
    default: break;
  }
  const m = code[0]!;
  const t = code.slice(1);
  switch (m) {
    case 'E': case 'W': case 'Q': case 'M': case 'R': case 'U': case 'N': {
      if (i.mod === 3) {
        if (m === 'W' || m === 'U') return `xmm${i.rm}`;
        if (m === 'Q' || m === 'N') return `mm${i.rm}`;
        return gpr(i.rm, regSize(t, osize));
      }
      return sized(typeSize(t, osize), memExpr(i, false));
    }
    case 'G': return gpr(i.reg, regSize(t, osize));
    case 'V': return `xmm${i.reg}`;
    case 'P': return `mm${i.reg}`;
    case 'Z': return gpr(i.op & 7, regSize(t, osize));
    case 'S': return SEG_NAMES[i.reg] ?? `seg${i.reg}`;
    case 'C': return `cr${i.reg}`;
    case 'D': return `dr${i.reg}`;
    case 'I': {
      const v = immIdx === 0 ? i.imm : i.imm2;
      if (t === 'b') return hex(v & 0xff);
      if (t === 'bs') return hex(osize === 2 ? v & 0xffff : v);
      if (t === 'w') return hex(v & 0xffff);
      return hex(osize === 2 ? v & 0xffff : v);
    }
    case 'J': return hex(i.target);
    case 'A': return `${hex(i.imm2 & 0xffff)}:${hex(osize === 2 ? i.imm & 0xffff : i.imm)}`;
    case 'O': return `${SEG_NAMES[i.seg]!}:${hex(i.a16 ? i.disp & 0xffff : i.disp)}`;
    case 'X': {
      const seg = i.segOverride ? SEG_NAMES[i.seg]! : 'ds';
      return sized(typeSize(t, osize), `${seg}:[${i.a16 ? 'si' : 'esi'}]`);
    }
    case 'Y': return sized(typeSize(t, osize), `es:[${i.a16 ? 'di' : 'edi'}]`);
    default: return `?${code}`;
  }
}

/**
 * Disassemble one decoded instruction in Intel syntax, e.g.
 * `lock cmpxchg dword ptr [ebx+esi*4+0x10], ecx`. Never throws.
 */
export function disassemble(insn: Insn, opts: DisasmOptions = {}): string {
  const i = insn;
  const code32 = opts.code32 ?? true;
  const p66 = i.o16 === code32;
  const osize = i.o16 ? 2 : 4;
  let name = i.def.name;
  let shape: string | undefined;

  const simd = simdForm(i, p66);
  if (simd !== null) {
    name = simd.name;
    shape = simd.operands;
  } else {
    shape = i.def.operands ?? builtinShape(i);
    const pair = SIZE_MAP.get(name);
    if (pair !== undefined) name = pair[osize === 2 ? 0 : 1];
    if (name === 'jecxz' || name === 'jcxz') name = i.a16 ? 'jcxz' : 'jecxz';
  }
  if (name === '(bad)' || name === '(bad lock)') {
    return opts.bytes ? `(bad) ${hexBytes(opts.bytes)}` : '(bad)';
  }
  if (i.op === 0x90 && i.rep === 1) name = 'pause';
  if (i.op === 0x0f0f) name = NOW3D[i.imm & 0xff] ?? '(bad)';

  let ops = shape === undefined ? undefined : shape === '' ? [] : shape.split(',');
  // Comparison predicates and PCLMULQDQ selectors print as pseudo-mnemonics (as binutils does).
  if (ops !== undefined && i.op === 0x0fc2 && (i.imm & 0xff) < 8) {
    name = `cmp${CMP_PRED[i.imm & 7]!}${name.slice(3, 5)}`;
    ops = ops.slice(0, 2);
  } else if (ops !== undefined && i.op === 0x0f3a44 && PCLMUL[i.imm & 0xff] !== undefined) {
    name = `pclmul${PCLMUL[i.imm & 0xff]!}dq`;
    ops = ops.slice(0, 2);
  } else if (i.op === 0x0f0f && ops !== undefined) {
    ops = ops.slice(0, 2);
  }

  let prefix = '';
  if (i.lock) prefix = 'lock ';
  if (i.rep !== 0 && STRING_OPS.has(i.op)) {
    const cmp = i.op === 0xa6 || i.op === 0xa7 || i.op === 0xae || i.op === 0xaf;
    prefix += i.rep === 2 ? 'repne ' : cmp ? 'repe ' : 'rep ';
  }

  if (ops === undefined) {
    return opts.bytes ? `${prefix}${name} (bytes: ${hexBytes(opts.bytes)})` : `${prefix}${name}`;
  }
  let immIdx = 0;
  let parts = ops.map((code) => {
    const s = operand(i, code.trim(), osize, immIdx);
    if (code.trim()[0] === 'I') immIdx++;
    return s;
  });
  // A def named with its operand ('push fs') must not print it twice.
  const extra = name.split(' ').slice(1);
  if (extra.length > 0 && extra.every((w, k) => parts[k] === w)) parts = parts.slice(extra.length);
  return parts.length === 0 ? `${prefix}${name}` : `${prefix}${name} ${parts.join(', ')}`;
}
