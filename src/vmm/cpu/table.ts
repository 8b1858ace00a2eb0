/**
 * The opcode map: one-byte, two-byte (0F xx) and the 0F 38 / 0F 3A escapes.
 *
 * Slots are filled by the family files (families/*.ts), each registering
 * the opcodes whose semantics it owns; opcodes.ts calls them all in order.
 * An empty slot decodes to #UD. Any encoding that reaches `op`/`group` is
 * fully decoded (ModRM, SIB, displacement, immediates) before execution, so
 * traces can name it even when executing it raises #UD or #NM.
 */
import type { OpDef, OpEntry } from './insn.js';

export class OpTable {
  readonly one: (OpEntry | null)[] = new Array<OpEntry | null>(256).fill(null);
  readonly two: (OpEntry | null)[] = new Array<OpEntry | null>(256).fill(null);
  /** 0F 38 xx (all SSE-family: ModRM, no immediate). */
  readonly three38: (OpEntry | null)[] = new Array<OpEntry | null>(256).fill(null);
  /** 0F 3A xx (all SSE-family: ModRM plus imm8). */
  readonly three3a: (OpEntry | null)[] = new Array<OpEntry | null>(256).fill(null);

  private slot(opcode: number): { map: (OpEntry | null)[]; idx: number } {
    if (opcode < 0x100) return { map: this.one, idx: opcode };
    if (opcode >= 0x0f00 && opcode <= 0x0fff) return { map: this.two, idx: opcode & 0xff };
    if ((opcode & ~0xff) === 0x0f3800) return { map: this.three38, idx: opcode & 0xff };
    if ((opcode & ~0xff) === 0x0f3a00) return { map: this.three3a, idx: opcode & 0xff };
    throw new Error(`bad opcode key 0x${opcode.toString(16)}`);
  }

  /** Register a plain form. Registering a slot twice is a programming error. */
  op(opcode: number, def: OpDef): void {
    const { map, idx } = this.slot(opcode);
    if (map[idx] !== null) throw new Error(`opcode 0x${opcode.toString(16)} registered twice`);
    map[idx] = { kind: 'op', def };
  }

  /** Register a ModRM.reg group member (reg 0-7). */
  group(opcode: number, reg: number, def: OpDef): void {
    const { map, idx } = this.slot(opcode);
    let e = map[idx] ?? null;
    if (e === null) {
      e = { kind: 'group', sub: new Array<OpDef | null>(8).fill(null) };
      map[idx] = e;
    }
    if (e.kind !== 'group') throw new Error(`opcode 0x${opcode.toString(16)} is not a group`);
    const sub = e.sub as (OpDef | null)[];
    if (sub[reg] !== null) throw new Error(`group 0x${opcode.toString(16)}/${reg} registered twice`);
    sub[reg] = def;
  }

  /** Register an irregular slot decided by the whole ModRM byte. */
  resolver(opcode: number, resolve: (modrm: number) => OpDef | null): void {
    const { map, idx } = this.slot(opcode);
    if (map[idx] !== null) throw new Error(`opcode 0x${opcode.toString(16)} registered twice`);
    map[idx] = { kind: 'resolve', resolve };
  }

  /** Does this slot need a ModRM byte before the form is known? */
  static needsModrm(e: OpEntry): boolean {
    return e.kind !== 'op' || e.def.modrm === true;
  }
}
