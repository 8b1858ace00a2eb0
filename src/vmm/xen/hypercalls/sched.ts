/** Placeholder: filled in by the sched hypercall work. */
import type { Domain } from '../domain.js';

export function registerSchedHypercalls(_dom: Domain): void {}
