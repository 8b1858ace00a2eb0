/** Placeholder: filled in by the multicall work. */
import type { Domain } from '../domain.js';

export function registerMulticall(_dom: Domain): void {}
