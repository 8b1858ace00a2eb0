/** Placeholder: filled in by the console hypercall work. */
import type { Domain } from '../domain.js';

export function registerConsoleHypercalls(_dom: Domain): void {}
