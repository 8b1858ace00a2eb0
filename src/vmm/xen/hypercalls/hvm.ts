/** Placeholder: filled in by the hvm hypercall work. */
import type { Domain } from '../domain.js';

export function registerHvmHypercalls(_dom: Domain): void {}
