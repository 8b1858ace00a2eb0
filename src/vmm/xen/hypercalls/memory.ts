/** Placeholder: filled in by the memory hypercall work. */
import type { Domain } from '../domain.js';

export function registerMemoryHypercalls(_dom: Domain): void {}
