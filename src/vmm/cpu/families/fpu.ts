/**
 * x87, MMX, 3DNow!, SSE-SSE4.2 (and the AES/SHA/GFNI/PCLMUL legacy
 * encodings): decoded completely, executed as #NM or #UD.
 *
 * The CPU reports no x87, MMX, FXSR or SSE in CPUID (misc.ts), so none of
 * these instructions execute. They are still decoded with the correct
 * length (ModRM, SIB, displacement, immediates) so that traces and crash
 * reports can name them and the instruction after them decodes at the
 * right address. Encodings covered:
 *  - x87 escapes D8-DF (every memory and register form, Intel SDM vol. 2
 *    appendix A.4, tables) and FWAIT (9B);
 *  - the 0F map: 10-17, 28-2F, 50-7F, C2-C6, D0-FF (table A-3), 0F 0E
 *    (FEMMS), 0F 0F (3DNow!: ModRM then an imm8 opcode suffix, AMD APM
 *    vol. 5), group 15 at 0F AE (table A-6), and every slot of the 0F 38
 *    and 0F 3A maps (tables; 0F 3A forms all carry an imm8).
 *    The mnemonic of an SSE form depends on its mandatory prefix (none,
 *    66, F3, F2; F2/F3 win over 66); `simdForm` gives the disassembler the
 *    right one.
 *
 * Length choices where decoders disagree: 0F 78/79 follow the Intel map
 * (VMREAD/VMWRITE Ey,Gy: ModRM only, whatever the prefix). AMD's SSE4a
 * EXTRQ/INSERTQ (66/F2 0F 78 ib ib) carry two more bytes there; we report
 * GenuineIntel and never execute them (#UD at the instruction itself), so
 * only a disassembly after such an instruction can differ from an AMD's.
 * UD0 (0F FF) takes a ModRM, as Intel documents.
 *
 * Execution (Intel SDM vol. 3A §2.5 CR0.EM/MP/TS, §13.1 / table 13-1, and
 * the "Exceptions Type" tables of vol. 2 §2.5):
 *  - x87 (D8-DF): #NM when CR0.EM or CR0.TS is set, else #UD (no FPU).
 *  - FWAIT: #NM when CR0.TS and CR0.MP are both set, else no operation
 *    (with no FPU there is never a pending x87 exception).
 *  - MMX forms (MMX registers only, no mandatory prefix; also EMMS, FEMMS,
 *    3DNow!): #UD when CR0.EM, else #NM when CR0.TS, else #UD.
 *  - SSE forms (any XMM operand, or a mandatory prefix; also LDMXCSR and
 *    STMXCSR): #UD when CR0.EM or CR4.OSFXSR = 0, else #NM when CR0.TS,
 *    else #UD.
 *  - FXSAVE/FXRSTOR: #UD when CR0.EM, else #NM when CR0.TS, else #UD.
 *  - Always #UD, whatever CR0 says: LFENCE/MFENCE/SFENCE (CPUID reports no
 *    SSE/SSE2, and fences are not affected by EM/TS); CLFLUSH (no CLFSH);
 *    XSAVE/XRSTOR/XSAVEOPT (CR4.OSXSAVE cannot be set); the general-purpose
 *    forms of the 0F 38 map (MOVBE, CRC32, ADCX, ADOX), VMREAD/VMWRITE,
 *    INVEPT/INVVPID/INVPCID, UD0, and every unassigned slot.
 * Read literally, table 13-1 makes every SSE form #UD outright because
 * CPUID.01H:EDX.SSE = 0 (and MMX forms likewise, CPUID.MMX = 0). We apply
 * the EM/OSFXSR/TS ordering of the table's remaining rows instead, as if
 * the unit were present but unusable, so that a kernel doing lazy FPU
 * switching (TS set) sees #NM first, as it would on hardware that has the
 * unit; with TS clear the result is #UD either way. This is a deliberate
 * choice of the project, not hardware behaviour.
 *
 * A mandatory prefix the map does not define for an opcode is ignored (the
 * form without it decides: F3 0F 60 is PUNPCKLBW mm, 66 F3 0F 60 the XMM
 * form), as SSE hardware does. LOCK on any of these raises #UD (the
 * decoder's LOCKABLE rule), before #NM (vol. 3A table 6-2).
 */
import { CR0_EM, CR0_MP, CR0_TS, CR4_OSFXSR, type Cpu } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { D, Imm, type ExecFn, type Insn, type OpDef } from '../insn.js';
import type { OpTable } from '../table.js';

/** Fault classes (how CR0/CR4 bits decide between #UD and #NM). */
const enum K { UD = 0, X87 = 1, MMX = 2, SSE = 3, FXSR = 4 }

/** Raise the fault an instruction of class `k` produces: never returns. */
function simdFault(c: Cpu, k: number): never {
  const cr0 = c.cr0;
  switch (k) {
    case K.X87:
      if ((cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuFault(Vec.NM);
      break;
    case K.MMX:
    case K.FXSR:
      if ((cr0 & CR0_EM) === 0 && (cr0 & CR0_TS) !== 0) throw new CpuFault(Vec.NM);
      break;
    case K.SSE:
      if ((cr0 & CR0_EM) === 0 && (c.cr4 & CR4_OSFXSR) !== 0 && (cr0 & CR0_TS) !== 0) throw new CpuFault(Vec.NM);
      break;
    default:
      break;
  }
  throw new CpuFault(Vec.UD);
}

const execUD: ExecFn = () => { throw new CpuFault(Vec.UD); };
const execX87: ExecFn = (c) => simdFault(c, K.X87);
const execMMX: ExecFn = (c) => simdFault(c, K.MMX);
const execSSE: ExecFn = (c) => simdFault(c, K.SSE);
const execFXSR: ExecFn = (c) => simdFault(c, K.FXSR);

/**
 * Mandatory-prefix column of an instruction: 0 none, 1 = 66, 2 = F3, 3 =
 * F2. `p66` says whether a 66 prefix byte was present (in 16-bit code that
 * is `!o16`); REP prefixes take precedence over 66.
 */
export function prefixColumn(i: Insn, p66: boolean): number {
  return i.rep === 1 ? 2 : i.rep === 2 ? 3 : p66 ? 1 : 0;
}

// --- SSE/MMX opcode tables ------------------------------------------------------------

/** One mnemonic and its operand shapes (disasm.ts notation). */
export interface SimdForm {
  readonly name: string;
  readonly operands: string;
}

/** Per-slot information for prefix-dependent forms. */
interface Slot {
  /** Forms by prefix column; an undefined 66 column already holds the plain form, F3/F2 fall back at run time. */
  readonly forms: readonly (SimdForm | null)[];
  /** Fault class by prefix column. */
  readonly cls: Uint8Array;
  /** No-prefix form when ModRM.mod = 3 (MOVHLPS/MOVLHPS), if different. */
  readonly regForm?: SimdForm;
}

const SLOTS = new Map<OpDef, Slot>();

/**
 * Table text: 'name Ops | name Ops | name Ops | name Ops' for the none, 66,
 * F3 and F2 columns; '-' (or a missing column) means undefined; a leading
 * '!' marks a form that always raises #UD (not SSE/MMX state).
 */
const MAP_0F: Record<number, string> = {
  0x10: 'movups Vps,Wps | movupd Vpd,Wpd | movss Vss,Wss | movsd Vsd,Wsd',
  0x11: 'movups Wps,Vps | movupd Wpd,Vpd | movss Wss,Vss | movsd Wsd,Vsd',
  0x12: 'movlps Vq,Mq | movlpd Vq,Mq | movsldup Vx,Wx | movddup Vx,Wsd',
  0x13: 'movlps Mq,Vq | movlpd Mq,Vq',
  0x14: 'unpcklps Vx,Wx | unpcklpd Vx,Wx',
  0x15: 'unpckhps Vx,Wx | unpckhpd Vx,Wx',
  0x16: 'movhps Vq,Mq | movhpd Vq,Mq | movshdup Vx,Wx',
  0x17: 'movhps Mq,Vq | movhpd Mq,Vq',
  0x28: 'movaps Vps,Wps | movapd Vpd,Wpd',
  0x29: 'movaps Wps,Vps | movapd Wpd,Vpd',
  0x2a: 'cvtpi2ps Vps,Qq | cvtpi2pd Vpd,Qq | cvtsi2ss Vss,Ed | cvtsi2sd Vsd,Ed',
  0x2b: 'movntps Mps,Vps | movntpd Mpd,Vpd',
  0x2c: 'cvttps2pi Pq,Wq | cvttpd2pi Pq,Wpd | cvttss2si Gd,Wss | cvttsd2si Gd,Wsd',
  0x2d: 'cvtps2pi Pq,Wq | cvtpd2pi Pq,Wpd | cvtss2si Gd,Wss | cvtsd2si Gd,Wsd',
  0x2e: 'ucomiss Vss,Wss | ucomisd Vsd,Wsd',
  0x2f: 'comiss Vss,Wss | comisd Vsd,Wsd',
  0x50: 'movmskps Gd,Ups | movmskpd Gd,Upd',
  0x51: 'sqrtps Vps,Wps | sqrtpd Vpd,Wpd | sqrtss Vss,Wss | sqrtsd Vsd,Wsd',
  0x52: 'rsqrtps Vps,Wps | - | rsqrtss Vss,Wss',
  0x53: 'rcpps Vps,Wps | - | rcpss Vss,Wss',
  0x54: 'andps Vps,Wps | andpd Vpd,Wpd',
  0x55: 'andnps Vps,Wps | andnpd Vpd,Wpd',
  0x56: 'orps Vps,Wps | orpd Vpd,Wpd',
  0x57: 'xorps Vps,Wps | xorpd Vpd,Wpd',
  0x5a: 'cvtps2pd Vpd,Wq | cvtpd2ps Vps,Wpd | cvtss2sd Vsd,Wss | cvtsd2ss Vss,Wsd',
  0x5b: 'cvtdq2ps Vps,Wx | cvtps2dq Vx,Wps | cvttps2dq Vx,Wps',
  0x6c: '- | punpcklqdq Vx,Wx',
  0x6d: '- | punpckhqdq Vx,Wx',
  0x6e: 'movd Pq,Ed | movd Vx,Ed',
  0x6f: 'movq Pq,Qq | movdqa Vx,Wx | movdqu Vx,Wx',
  0x70: 'pshufw Pq,Qq,Ib | pshufd Vx,Wx,Ib | pshufhw Vx,Wx,Ib | pshuflw Vx,Wx,Ib',
  0x78: '!vmread Ed,Gd',
  0x79: '!vmwrite Gd,Ed',
  0x7c: '- | haddpd Vpd,Wpd | - | haddps Vps,Wps',
  0x7d: '- | hsubpd Vpd,Wpd | - | hsubps Vps,Wps',
  0x7e: 'movd Ed,Pq | movd Ed,Vx | movq Vx,Wq',
  0x7f: 'movq Qq,Pq | movdqa Wx,Vx | movdqu Wx,Vx',
  0xc2: 'cmpps Vps,Wps,Ib | cmppd Vpd,Wpd,Ib | cmpss Vss,Wss,Ib | cmpsd Vsd,Wsd,Ib',
  0xc3: 'movnti Md,Gd',
  0xc4: 'pinsrw Pq,Edw,Ib | pinsrw Vx,Edw,Ib',
  0xc5: 'pextrw Gd,Nq,Ib | pextrw Gd,Ux,Ib',
  0xc6: 'shufps Vps,Wps,Ib | shufpd Vpd,Wpd,Ib',
  0xd0: '- | addsubpd Vpd,Wpd | - | addsubps Vps,Wps',
  0xd6: '- | movq Wq,Vq | movq2dq Vx,Nq | movdq2q Pq,Ux',
  0xd7: 'pmovmskb Gd,Nq | pmovmskb Gd,Ux',
  0xe6: '- | cvttpd2dq Vx,Wpd | cvtdq2pd Vx,Wq | cvtpd2dq Vx,Wpd',
  0xe7: 'movntq Mq,Pq | movntdq Mx,Vx',
  0xf0: '- | - | - | lddqu Vx,Mx',
  0xf7: 'maskmovq Pq,Nq | maskmovdqu Vx,Ux',
  0xff: '!ud0 Gd,Ed',
};
// Arithmetic with the four ps/pd/ss/sd forms.
for (const [op, n] of [[0x58, 'add'], [0x59, 'mul'], [0x5c, 'sub'], [0x5d, 'min'], [0x5e, 'div'], [0x5f, 'max']] as const) {
  MAP_0F[op] = `${n}ps Vps,Wps | ${n}pd Vpd,Wpd | ${n}ss Vss,Wss | ${n}sd Vsd,Wsd`;
}
// MMX integer forms, XMM with 66.
const MMX_INT: [number, string, string?][] = [
  [0x60, 'punpcklbw', 'Qd'], [0x61, 'punpcklwd', 'Qd'], [0x62, 'punpckldq', 'Qd'], [0x63, 'packsswb'],
  [0x64, 'pcmpgtb'], [0x65, 'pcmpgtw'], [0x66, 'pcmpgtd'], [0x67, 'packuswb'], [0x68, 'punpckhbw'],
  [0x69, 'punpckhwd'], [0x6a, 'punpckhdq'], [0x6b, 'packssdw'], [0x74, 'pcmpeqb'], [0x75, 'pcmpeqw'],
  [0x76, 'pcmpeqd'], [0xd1, 'psrlw'], [0xd2, 'psrld'], [0xd3, 'psrlq'], [0xd4, 'paddq'], [0xd5, 'pmullw'],
  [0xd8, 'psubusb'], [0xd9, 'psubusw'], [0xda, 'pminub'], [0xdb, 'pand'], [0xdc, 'paddusb'], [0xdd, 'paddusw'],
  [0xde, 'pmaxub'], [0xdf, 'pandn'], [0xe0, 'pavgb'], [0xe1, 'psraw'], [0xe2, 'psrad'], [0xe3, 'pavgw'],
  [0xe4, 'pmulhuw'], [0xe5, 'pmulhw'], [0xe8, 'psubsb'], [0xe9, 'psubsw'], [0xea, 'pminsw'], [0xeb, 'por'],
  [0xec, 'paddsb'], [0xed, 'paddsw'], [0xee, 'pmaxsw'], [0xef, 'pxor'], [0xf1, 'psllw'], [0xf2, 'pslld'],
  [0xf3, 'psllq'], [0xf4, 'pmuludq'], [0xf5, 'pmaddwd'], [0xf6, 'psadbw'], [0xf8, 'psubb'], [0xf9, 'psubw'],
  [0xfa, 'psubd'], [0xfb, 'psubq'], [0xfc, 'paddb'], [0xfd, 'paddw'], [0xfe, 'paddd'],
];
for (const [op, n, q] of MMX_INT) MAP_0F[op] = `${n} Pq,${q ?? 'Qq'} | ${n} Vx,Wx`;

const MAP_0F38: Record<number, string> = {
  0x10: '- | pblendvb Vx,Wx,XMM0', 0x14: '- | blendvps Vx,Wx,XMM0', 0x15: '- | blendvpd Vx,Wx,XMM0',
  0x17: '- | ptest Vx,Wx', 0x2a: '- | movntdqa Vx,Mx',
  0x80: '- | !invept Gd,Mx', 0x81: '- | !invvpid Gd,Mx', 0x82: '- | !invpcid Gd,Mx',
  0xc8: 'sha1nexte Vx,Wx', 0xc9: 'sha1msg1 Vx,Wx', 0xca: 'sha1msg2 Vx,Wx', 0xcb: 'sha256rnds2 Vx,Wx,XMM0',
  0xcc: 'sha256msg1 Vx,Wx', 0xcd: 'sha256msg2 Vx,Wx', 0xcf: '- | gf2p8mulb Vx,Wx',
  0xf0: '!movbe Gv,Mv | !movbe Gv,Mv | - | !crc32 Gd,Eb',
  0xf1: '!movbe Mv,Gv | !movbe Mv,Gv | - | !crc32 Gd,Ev',
  0xf6: '- | !adcx Gd,Ed | !adox Gd,Ed',
};
for (const [op, n] of [[0x00, 'pshufb'], [0x01, 'phaddw'], [0x02, 'phaddd'], [0x03, 'phaddsw'], [0x04, 'pmaddubsw'],
  [0x05, 'phsubw'], [0x06, 'phsubd'], [0x07, 'phsubsw'], [0x08, 'psignb'], [0x09, 'psignw'], [0x0a, 'psignd'],
  [0x0b, 'pmulhrsw'], [0x1c, 'pabsb'], [0x1d, 'pabsw'], [0x1e, 'pabsd']] as const) {
  MAP_0F38[op] = `${n} Pq,Qq | ${n} Vx,Wx`;
}
for (const [k, t] of [[0, 'Wq'], [1, 'Wd'], [2, 'Ww'], [3, 'Wq'], [4, 'Wd'], [5, 'Wq']] as const) {
  const sfx = ['bw', 'bd', 'bq', 'wd', 'wq', 'dq'][k]!;
  MAP_0F38[0x20 + k] = `- | pmovsx${sfx} Vx,${t}`;
  MAP_0F38[0x30 + k] = `- | pmovzx${sfx} Vx,${t}`;
}
for (const [op, n] of [[0x28, 'pmuldq'], [0x29, 'pcmpeqq'], [0x2b, 'packusdw'], [0x37, 'pcmpgtq'], [0x38, 'pminsb'],
  [0x39, 'pminsd'], [0x3a, 'pminuw'], [0x3b, 'pminud'], [0x3c, 'pmaxsb'], [0x3d, 'pmaxsd'], [0x3e, 'pmaxuw'],
  [0x3f, 'pmaxud'], [0x40, 'pmulld'], [0x41, 'phminposuw'], [0xdb, 'aesimc'], [0xdc, 'aesenc'],
  [0xdd, 'aesenclast'], [0xde, 'aesdec'], [0xdf, 'aesdeclast']] as const) {
  MAP_0F38[op] = `- | ${n} Vx,Wx`;
}

const MAP_0F3A: Record<number, string> = {
  0x0a: '- | roundss Vss,Wss,Ib', 0x0b: '- | roundsd Vsd,Wsd,Ib',
  0x0f: 'palignr Pq,Qq,Ib | palignr Vx,Wx,Ib',
  0x14: '- | pextrb Edb,Vx,Ib', 0x15: '- | pextrw Edw,Vx,Ib', 0x16: '- | pextrd Ed,Vx,Ib', 0x17: '- | extractps Ed,Vx,Ib',
  0x20: '- | pinsrb Vx,Edb,Ib', 0x21: '- | insertps Vx,Wd,Ib', 0x22: '- | pinsrd Vx,Ed,Ib',
  0xcc: 'sha1rnds4 Vx,Wx,Ib',
};
for (const [op, n] of [[0x08, 'roundps'], [0x09, 'roundpd'], [0x0c, 'blendps'], [0x0d, 'blendpd'], [0x0e, 'pblendw'],
  [0x40, 'dpps'], [0x41, 'dppd'], [0x42, 'mpsadbw'], [0x44, 'pclmulqdq'], [0x60, 'pcmpestrm'], [0x61, 'pcmpestri'],
  [0x62, 'pcmpistrm'], [0x63, 'pcmpistri'], [0xce, 'gf2p8affineqb'], [0xcf, 'gf2p8affineinvqb'],
  [0xdf, 'aeskeygenassist']] as const) {
  MAP_0F3A[op] = `- | ${n} Vx,Wx,Ib`;
}

/** The class of a form from its operand shapes: any XMM operand makes it SSE. */
function classOf(ops: string, col: number): K {
  if (/(^|,)[VWU]/.test(ops) || col !== 0) return K.SSE;
  return K.MMX;
}

/** Parse a table line into per-column forms and classes (with prefix fallback). */
function parseSlot(text: string | undefined): { forms: (SimdForm | null)[]; cls: Uint8Array } {
  const raw: (SimdForm | null)[] = [null, null, null, null];
  const rawCls = new Uint8Array(4);
  if (text !== undefined) {
    text.split('|').forEach((col, k) => {
      const s = col.trim();
      if (s === '' || s === '-') return;
      const ud = s.startsWith('!');
      const sp = s.indexOf(' ');
      const name = (sp < 0 ? s : s.slice(0, sp)).replace('!', '');
      const operands = sp < 0 ? '' : s.slice(sp + 1).trim();
      raw[k] = { name, operands };
      rawCls[k] = ud ? K.UD : classOf(operands, k);
    });
  }
  // An undefined F3/F2 column acts as the form without it (66 when present
  // and defined, resolved at run time via column 1), an undefined 66 column
  // as the form without any prefix.
  const forms = raw.slice();
  const cls = rawCls.slice();
  if (forms[1] === null) { forms[1] = raw[0]!; cls[1] = rawCls[0]!; }
  return { forms, cls };
}

/** Resolve an F2/F3 column with no form of its own to the 66 or plain column. */
function effectiveColumn(s: Slot, col: number, p66: boolean): number {
  if (s.forms[col] !== null || col < 2) return col;
  return p66 ? 1 : 0;
}

/** Build the exec function for a slot: pick the prefix column, fault by its class. */
function slotExec(s: Slot): ExecFn {
  const cls = s.cls, forms = s.forms;
  return (c, i) => {
    const p66 = i.o16 === c.code32;
    let col = i.rep === 1 ? 2 : i.rep === 2 ? 3 : p66 ? 1 : 0;
    if (col >= 2 && forms[col] === null) col = p66 ? 1 : 0;
    if (forms[col] === null) throw new CpuFault(Vec.UD);
    simdFault(c, cls[col]!);
  };
}

function slotName(forms: readonly (SimdForm | null)[]): string {
  const names: string[] = [];
  for (const f of forms) if (f !== null && !names.includes(f.name)) names.push(f.name);
  return names.length === 0 ? '(bad)' : names.join('/');
}

/** Register one prefix-dependent slot of the 0F, 0F 38 or 0F 3A map. */
function simdSlot(t: OpTable, opcode: number, text: string | undefined, imm: Imm, regForm?: SimdForm): void {
  const { forms, cls } = parseSlot(text);
  const slot: Slot = regForm ? { forms, cls, regForm } : { forms, cls };
  const def: OpDef = { name: slotName(forms), modrm: true, imm, exec: slotExec(slot) };
  SLOTS.set(def, slot);
  t.op(opcode, def);
}

/**
 * The mnemonic and operand shapes of an SSE/MMX instruction decoded from a
 * prefix-dependent slot, or null when `i` is not one. `p66` says whether a
 * 66 prefix byte was present.
 */
export function simdForm(i: Insn, p66: boolean): SimdForm | null {
  const s = SLOTS.get(i.def);
  if (s === undefined) return null;
  const col = effectiveColumn(s, prefixColumn(i, p66), p66);
  if (col === 0 && i.mod === 3 && s.regForm !== undefined) return s.regForm;
  return s.forms[col] ?? BAD_FORM;
}

const BAD_FORM: SimdForm = { name: '(bad)', operands: '' };

// --- 3DNow! ---------------------------------------------------------------------------

/** 3DNow! mnemonics by imm8 suffix (AMD APM vol. 5 / 3DNow! technology manual). */
export const NOW3D: Readonly<Record<number, string>> = {
  0x0c: 'pi2fw', 0x0d: 'pi2fd', 0x1c: 'pf2iw', 0x1d: 'pf2id', 0x8a: 'pfnacc', 0x8e: 'pfpnacc',
  0x90: 'pfcmpge', 0x94: 'pfmin', 0x96: 'pfrcp', 0x97: 'pfrsqrt', 0x9a: 'pfsub', 0x9e: 'pfadd',
  0xa0: 'pfcmpgt', 0xa4: 'pfmax', 0xa6: 'pfrcpit1', 0xa7: 'pfrsqit1', 0xaa: 'pfsubr', 0xae: 'pfacc',
  0xb0: 'pfcmpeq', 0xb4: 'pfmul', 0xb6: 'pfrcpit2', 0xb7: 'pmulhrw', 0xbb: 'pswapd', 0xbf: 'pavgusb',
};

// --- x87 ---------------------------------------------------------------------------------

const ARITH = ['add', 'mul', 'com', 'comp', 'sub', 'subr', 'div', 'divr'];

/** x87 memory forms by opcode (D8-DF) and ModRM.reg: 'name Ops' or '' for reserved. */
const X87_MEM: readonly (readonly string[])[] = [
  ARITH.map((n) => `f${n} Md`),
  ['fld Md', '', 'fst Md', 'fstp Md', 'fldenv Me', 'fldcw Mw', 'fnstenv Me', 'fnstcw Mw'],
  ARITH.map((n) => `fi${n} Md`),
  ['fild Md', 'fisttp Md', 'fist Md', 'fistp Md', '', 'fld Mt', '', 'fstp Mt'],
  ARITH.map((n) => `f${n} Mq`),
  ['fld Mq', 'fisttp Mq', 'fst Mq', 'fstp Mq', 'frstor Me', '', 'fnsave Me', 'fnstsw Mw'],
  ARITH.map((n) => `fi${n} Mw`),
  ['fild Mw', 'fisttp Mw', 'fist Mw', 'fistp Mw', 'fbld Mt', 'fild Mq', 'fbstp Mt', 'fistp Mq'],
];

/** x87 register form (mod = 3) for opcode index `o` (0-7 = D8-DF), reg and rm: 'name Ops' or ''. */
function x87Reg(o: number, reg: number, rm: number): string {
  const row8 = (names: readonly string[], ops: string): string => (names[reg] ? `${names[reg]} ${ops}` : '');
  switch (o) {
    case 0: // D8: fadd st,st(i) ... fcom st(i)
      return reg === 2 || reg === 3 ? `f${ARITH[reg]} STi` : `f${ARITH[reg]} ST,STi`;
    case 1: { // D9
      if (reg === 0) return 'fld STi';
      if (reg === 1) return 'fxch STi';
      if (reg === 2) return rm === 0 ? 'fnop ' : '';
      if (reg === 3) return 'fstp1 STi'; // reserved alias of FSTP
      const tbl: Record<number, string> = {
        0xe0: 'fchs', 0xe1: 'fabs', 0xe4: 'ftst', 0xe5: 'fxam', 0xe8: 'fld1', 0xe9: 'fldl2t', 0xea: 'fldl2e',
        0xeb: 'fldpi', 0xec: 'fldlg2', 0xed: 'fldln2', 0xee: 'fldz', 0xf0: 'f2xm1', 0xf1: 'fyl2x', 0xf2: 'fptan',
        0xf3: 'fpatan', 0xf4: 'fxtract', 0xf5: 'fprem1', 0xf6: 'fdecstp', 0xf7: 'fincstp', 0xf8: 'fprem',
        0xf9: 'fyl2xp1', 0xfa: 'fsqrt', 0xfb: 'fsincos', 0xfc: 'frndint', 0xfd: 'fscale', 0xfe: 'fsin', 0xff: 'fcos',
      };
      const n = tbl[0xc0 | (reg << 3) | rm];
      return n ? `${n} ` : '';
    }
    case 2: // DA
      if (reg === 5) return rm === 1 ? 'fucompp ' : '';
      return row8(['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu'], 'ST,STi');
    case 3: // DB
      // DB E0/E1/E4 are the 8087/287 FENI/FDISI/FSETPM, no-ops since the 387.
      if (reg === 4) return ['fneni ', 'fndisi ', 'fnclex ', 'fninit ', 'fnsetpm ', '', '', ''][rm]!;
      return row8(['fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu', '', 'fucomi', 'fcomi', ''], 'ST,STi');
    case 4: // DC: fadd st(i),st ... (note: E0 is FSUBR st(i),st, E8 FSUB st(i),st)
      return reg === 2 || reg === 3 ? `f${ARITH[reg]}${reg + 0} STi` : `f${ARITH[reg ^ (reg >= 4 ? 1 : 0)]} STi,ST`;
    case 5: // DD
      return row8(['ffree', 'fxch4', 'fst', 'fstp', 'fucom', 'fucomp', '', ''], 'STi');
    case 6: // DE
      if (reg === 3) return rm === 1 ? 'fcompp ' : '';
      if (reg === 2) return 'fcomp5 STi';
      return `f${ARITH[reg ^ (reg >= 4 ? 1 : 0)]}p STi,ST`;
    default: // DF
      if (reg === 4) return rm === 0 ? 'fnstsw AX' : '';
      return row8(['ffreep', 'fxch7', 'fstp8', 'fstp9', '', 'fucomip', 'fcomip', ''], reg < 4 ? 'STi' : 'ST,STi');
  }
}

function x87Def(spec: string): OpDef {
  if (spec === '') return { name: '(bad)', modrm: true, exec: execX87 };
  const sp = spec.indexOf(' ');
  const name = sp < 0 ? spec : spec.slice(0, sp);
  const operands = sp < 0 ? '' : spec.slice(sp + 1);
  return operands === '' ? { name, modrm: true, exec: execX87 } : { name, operands, modrm: true, exec: execX87 };
}

// --- registration ---------------------------------------------------------------------

/** Register the x87 escapes, FWAIT and every MMX/SSE slot listed in the header. */
export function register(t: OpTable): void {
  // x87 escapes: one def per form so a trace names the exact instruction.
  for (let o = 0; o < 8; o++) {
    const mem = X87_MEM[o]!.map(x87Def);
    const reg: OpDef[] = [];
    for (let m = 0; m < 64; m++) reg.push(x87Def(x87Reg(o, m >> 3, m & 7)));
    t.resolver(0xd8 + o, (modrm) => (modrm >= 0xc0 ? reg[modrm & 0x3f]! : mem[(modrm >> 3) & 7]!));
  }
  t.op(0x9b, {
    name: 'fwait',
    exec: (c) => { if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw new CpuFault(Vec.NM); },
  });

  // 0F map: 10-17, 28-2F, 50-7F, C2-C6, D0-FF.
  const ranges: [number, number][] = [[0x10, 0x17], [0x28, 0x2f], [0x50, 0x7f], [0xc2, 0xc6], [0xd0, 0xff]];
  for (const [lo, hi] of ranges) {
    for (let b = lo; b <= hi; b++) {
      if (b >= 0x71 && b <= 0x73) continue; // shift-by-immediate groups, below
      if (b === 0x77) { t.op(0x0f77, { name: 'emms', exec: execMMX }); continue; }
      const imm = b === 0x70 || (b >= 0xc2 && b <= 0xc6 && b !== 0xc3) ? Imm.B : Imm.NONE;
      const regForm = b === 0x12 ? { name: 'movhlps', operands: 'Vq,Uq' } : b === 0x16 ? { name: 'movlhps', operands: 'Vq,Uq' } : undefined;
      simdSlot(t, 0x0f00 | b, MAP_0F[b], imm, regForm);
    }
  }
  // Groups 12-14 (0F 71-73): shifts of an MMX/XMM register by imm8; a
  // memory operand is #UD. Every ModRM value takes the imm8.
  const SHIFT_GROUPS: Record<number, readonly (string | null)[]> = {
    0x71: [null, null, 'psrlw', null, 'psraw', null, 'psllw', null],
    0x72: [null, null, 'psrld', null, 'psrad', null, 'pslld', null],
    0x73: [null, null, 'psrlq', 'psrldq', null, null, 'psllq', 'pslldq'],
  };
  for (const op of [0x71, 0x72, 0x73]) {
    const defs: OpDef[] = SHIFT_GROUPS[op]!.map((n, reg) => {
      if (n === null) return { name: '(bad)', imm: Imm.B, exec: execUD };
      const xmmOnly = reg === 3 || reg === 7;
      const text = xmmOnly ? `- | ${n} Ux,Ib` : `${n} Nq,Ib | ${n} Ux,Ib`;
      const { forms, cls } = parseSlot(text);
      const slot: Slot = { forms, cls };
      const def: OpDef = { name: n, imm: Imm.B, exec: slotExec(slot), flags: D.REG_ONLY };
      SLOTS.set(def, slot);
      return def;
    });
    t.resolver(0x0f00 | op, (modrm) => defs[(modrm >> 3) & 7]!);
  }

  // 0F 0E FEMMS, 0F 0F 3DNow! (ModRM, then the opcode as an imm8 suffix).
  t.op(0x0f0e, { name: 'femms', exec: execMMX });
  t.op(0x0f0f, { name: '3dnow', operands: 'Pq,Qq', modrm: true, imm: Imm.B, exec: execMMX });

  // Group 15 (0F AE).
  const aeMem: OpDef[] = [
    { name: 'fxsave', operands: 'M', exec: execFXSR },
    { name: 'fxrstor', operands: 'M', exec: execFXSR },
    { name: 'ldmxcsr', operands: 'Md', exec: execSSE },
    { name: 'stmxcsr', operands: 'Md', exec: execSSE },
    { name: 'xsave', operands: 'M', exec: execUD },
    { name: 'xrstor', operands: 'M', exec: execUD },
    { name: 'xsaveopt', operands: 'M', exec: execUD },
    { name: 'clflush', operands: 'Mb', exec: execUD },
  ];
  const aeReg: OpDef[] = [0, 1, 2, 3, 4].map(() => ({ name: '(bad)', exec: execUD } as OpDef))
    .concat([{ name: 'lfence', exec: execUD }, { name: 'mfence', exec: execUD }, { name: 'sfence', exec: execUD }]);
  t.resolver(0x0fae, (modrm) => (modrm >= 0xc0 ? aeReg : aeMem)[(modrm >> 3) & 7]!);

  // Three-byte maps: every slot has a ModRM; 0F 3A forms also an imm8.
  for (let b = 0; b < 256; b++) {
    simdSlot(t, 0x0f3800 | b, MAP_0F38[b], Imm.NONE);
    simdSlot(t, 0x0f3a00 | b, MAP_0F3A[b], Imm.B);
  }
}
