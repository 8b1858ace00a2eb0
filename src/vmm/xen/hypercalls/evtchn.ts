/** Placeholder: filled in by the evtchn hypercall work. */
import type { Domain } from '../domain.js';

export function registerEvtchnHypercalls(_dom: Domain): void {}
