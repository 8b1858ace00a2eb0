/** Placeholder: filled in by the mm hypercall work. */
import type { Domain } from '../domain.js';

export function registerMmHypercalls(_dom: Domain): void {}
