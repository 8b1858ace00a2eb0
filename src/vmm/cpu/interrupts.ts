/**
 * Protected-mode interrupt and exception delivery through the IDT
 * (Intel SDM vol. 3A §6.10-6.14).
 *
 * (Placeholder: the full implementation — interrupt/trap/task gates,
 * privilege change through the TSS, error codes — replaces this.)
 */
import { Cpu, IntKind, type Delivery } from './cpu.js';

export class IdtDelivery implements Delivery {
  deliver(_cpu: Cpu, vector: number, _kind: IntKind, _errorCode: number): void {
    throw new Error(`IDT delivery of vector ${vector} is not implemented yet`);
  }
}
