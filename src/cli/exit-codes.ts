/**
 * The exit statuses of `xenkit run`, one per way a guest can end (the
 * table in `--help` and docs/cli.md is generated from `EXIT_STATUSES`).
 * These numbers are an interface: scripts and CI jobs test them, so a
 * status never changes meaning; new outcomes get new numbers.
 */
import type { MachineExit } from '../vmm/machine.js';

/** The statuses by name. */
export const EXIT = {
  /** The guest powered off (SHUTDOWN_poweroff). */
  POWEROFF: 0,
  /** A bug in xenkit (an exception that is not the guest's doing). */
  INTERNAL: 1,
  /** Bad usage, or the kernel file is missing or not a valid Xen guest kernel. */
  USAGE: 2,
  /** SHUTDOWN_reboot (xenkit does not restart the guest). */
  REBOOT: 3,
  /** SHUTDOWN_crash: the guest crashed itself (its panic). */
  GUEST_CRASH: 4,
  /** Xen's domain_crash(): an exception with no handler, an unusable trap frame or callback. */
  DOMAIN_CRASH: 5,
  /** Triple fault (PVH: a fault while delivering a double fault). */
  TRIPLE_FAULT: 6,
  SUSPEND: 7,
  WATCHDOG: 8,
  SOFT_RESET: 9,
  /** The vCPU halted with nothing that could ever wake it. */
  HALTED: 10,
  /** SCHEDOP_shutdown with a reason Xen does not define. */
  UNKNOWN_SHUTDOWN: 11,
  /** Interrupted by SIGINT (Ctrl-C): 128 + 2, as shells report it. */
  INTERRUPTED: 130,
} as const;

/** [status, meaning] rows, in order, for --help and docs/cli.md. */
export const EXIT_STATUSES: readonly (readonly [number, string])[] = [
  [EXIT.POWEROFF, 'the guest powered off (SHUTDOWN_poweroff)'],
  [EXIT.INTERNAL, 'internal error in xenkit (a bug: please report it)'],
  [EXIT.USAGE, 'bad usage, or a missing or invalid kernel file'],
  [EXIT.REBOOT, 'the guest asked to reboot (SHUTDOWN_reboot)'],
  [EXIT.GUEST_CRASH, 'the guest crashed itself (SHUTDOWN_crash) *'],
  [EXIT.DOMAIN_CRASH, 'domain crashed as Xen would: exception with no handler, ... *'],
  [EXIT.TRIPLE_FAULT, 'triple fault *'],
  [EXIT.SUSPEND, 'the guest suspended (SHUTDOWN_suspend)'],
  [EXIT.WATCHDOG, 'the guest\'s watchdog fired (SHUTDOWN_watchdog)'],
  [EXIT.SOFT_RESET, 'the guest asked for a soft reset (SHUTDOWN_soft_reset)'],
  [EXIT.HALTED, 'the vCPU halted with nothing that could wake it'],
  [EXIT.UNKNOWN_SHUTDOWN, 'the guest shut down with an unknown reason code'],
  [EXIT.INTERRUPTED, 'interrupted (SIGINT, Ctrl-C)'],
];

/** Xen's SHUTDOWN_* reasons (public/sched.h; abi/sched.ts) → status. */
const BY_REASON: readonly number[] = [EXIT.POWEROFF, EXIT.REBOOT, EXIT.SUSPEND, EXIT.GUEST_CRASH, EXIT.WATCHDOG, EXIT.SOFT_RESET];

/** The exit status for how a machine stopped. */
export function statusForExit(exit: MachineExit): number {
  switch (exit.kind) {
    case 'shutdown':
      return BY_REASON[exit.reason] ?? EXIT.UNKNOWN_SHUTDOWN;
    case 'crash':
      return EXIT.DOMAIN_CRASH;
    case 'triple-fault':
      return EXIT.TRIPLE_FAULT;
    case 'halted':
      return EXIT.HALTED;
  }
}

/** Statuses after which the CLI prints a crash report. */
export function wantsCrashReport(status: number): boolean {
  return status === EXIT.GUEST_CRASH || status === EXIT.DOMAIN_CRASH || status === EXIT.TRIPLE_FAULT;
}

/** The exit-status table as help text. */
export function exitStatusHelp(): string {
  return ['Exit status:', ...EXIT_STATUSES.map(([n, s]) => `  ${String(n).padEnd(4)} ${s}`),
    '  (* a crash report is printed on stderr)'].join('\n');
}
