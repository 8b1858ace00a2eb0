/** Placeholder: filled in by the version hypercall work. */
import type { Domain } from '../domain.js';

export function registerVersionHypercalls(_dom: Domain): void {}
