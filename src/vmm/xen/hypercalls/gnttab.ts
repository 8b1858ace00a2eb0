/** Placeholder: filled in by the gnttab hypercall work. */
import type { Domain } from '../domain.js';

export function registerGnttabHypercalls(_dom: Domain): void {}
