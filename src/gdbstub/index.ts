/**
 * The gdb stub's public face: a GDB Remote Serial Protocol server in four
 * layers — framing (framing.ts) → command table (commands.ts) → session
 * (session.ts) → the `DebugTarget` the VMM implements (target.ts) — plus
 * the TCP side (server.ts). See docs/gdb.md for the user's view and the
 * list of supported packets.
 *
 * Imports nothing from src/vmm: the VMM depends on this, not the reverse.
 */
export {
  Reg, REGISTERS, Signal, registerSize, targetXml,
  type BreakpointKind, type DebugTarget, type MonitorHandlers, type RegValue, type RegisterDef,
  type RegisterValues, type ResumeAction, type StopListener, type StopReason, type TargetCapabilities,
  type ThreadId, type ThreadInfo,
} from './target.js';
export { GdbSession, type SessionIO, type SessionOptions, type SessionState } from './session.js';
export {
  DEFAULT_GDB_HOST, GdbServer, exposureWarning, formatAddress, isLoopback, parseGdbAddress,
  type CreateListener, type GdbAddress, type GdbListener, type GdbServerOptions, type GdbSocket,
} from './server.js';
export { GdbStubError, type GdbStubErrorCode } from './errors.js';
export { DEFAULT_MAX_PACKET } from './framing.js';
