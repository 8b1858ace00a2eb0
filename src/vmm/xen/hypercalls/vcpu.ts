/** Placeholder: filled in by the vcpu hypercall work. */
import type { Domain } from '../domain.js';

export function registerVcpuHypercalls(_dom: Domain): void {}
