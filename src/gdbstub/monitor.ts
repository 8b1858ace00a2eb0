/**
 * The `monitor` commands (gdb's `monitor …`, sent as `qRcmd,<hex>`): a
 * small table whose entries parse their arguments here, purely, and call
 * the target's `MonitorHandlers` for the work. A command whose handler
 * the target does not implement is not offered (`monitor help` lists what
 * is there). The text returned goes back to gdb as `O` packets.
 */
import type { MonitorHandlers, ThreadId } from './target.js';

/** One monitor command. */
interface MonitorCommand {
  readonly name: string;
  readonly usage: string;
  readonly help: string;
  /** Is it offered by this target? */
  readonly available: (h: MonitorHandlers) => boolean;
  /** Run it; `args` are the words after the name. Returns the text for gdb. */
  readonly run: (h: MonitorHandlers, args: readonly string[], thread: ThreadId) => string;
}

/** A guest-virtual address as typed by a user: hex with or without 0x (gdb users type both). */
export function parseUserAddress(s: string): number | null {
  const m = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(s);
  return m === null ? null : parseInt(m[1]!, 16);
}

const usage = (c: string): string => `usage: monitor ${c}\n`;

const TABLE: readonly MonitorCommand[] = [
  {
    name: 'help', usage: 'help', help: 'list the monitor commands',
    available: () => true,
    run: (h) => helpText(h),
  },
  {
    name: 'regs', usage: 'regs', help: 'all registers of the current vCPU, system registers too',
    available: (h) => h.regs !== undefined,
    run: (h, args, thread) => (args.length === 0 ? h.regs!(thread) : usage('regs')),
  },
  {
    name: 'pt', usage: 'pt <va>', help: 'walk the page tables for a virtual address',
    available: (h) => h.pageWalk !== undefined,
    run: (h, args, thread) => {
      const va = args.length === 1 ? parseUserAddress(args[0]!) : null;
      return va === null ? usage('pt <va>   (va in hex, e.g. pt 0xc0001000)') : h.pageWalk!(thread, va);
    },
  },
  {
    name: 'xs', usage: 'xs ls [path]', help: 'list a xenstore directory (default /)',
    available: (h) => h.xsList !== undefined,
    run: (h, args) => (args[0] === 'ls' && args.length <= 2 ? h.xsList!(args[1] ?? '/') : usage('xs ls [path]')),
  },
  {
    name: 'evtchn', usage: 'evtchn', help: 'the event channels and their state',
    available: (h) => h.evtchn !== undefined,
    run: (h, args) => (args.length === 0 ? h.evtchn!() : usage('evtchn')),
  },
  {
    name: 'devices', usage: 'devices', help: 'the paravirtual disks and NICs: xenbus states and counters',
    available: (h) => h.devices !== undefined,
    run: (h, args) => (args.length === 0 ? h.devices!() : usage('devices')),
  },
  {
    name: 'reset', usage: 'reset', help: 'reboot the guest; stays stopped at its first instruction',
    available: (h) => h.reset !== undefined,
    run: (h, args) => (args.length === 0 ? h.reset!() : usage('reset')),
  },
  {
    name: 'trace', usage: 'trace hypercalls|xenstore|events on|off', help: 'turn a trace (on xenkit\'s stderr) on or off',
    available: (h) => h.hypercallTrace !== undefined || h.xenstoreTrace !== undefined || h.eventTrace !== undefined,
    run: (h, args) => {
      const on = args[1] === 'on';
      const u = usage('trace hypercalls|xenstore|events on|off');
      if (args.length !== 2 || (args[1] !== 'on' && args[1] !== 'off')) return u;
      if (args[0] === 'hypercalls' && h.hypercallTrace !== undefined) return h.hypercallTrace(on);
      if (args[0] === 'xenstore' && h.xenstoreTrace !== undefined) return h.xenstoreTrace(on);
      if (args[0] === 'events' && h.eventTrace !== undefined) return h.eventTrace(on);
      return u;
    },
  },
];

function helpText(h: MonitorHandlers): string {
  const cmds = TABLE.filter((c) => c.available(h));
  const width = Math.max(...cmds.map((c) => c.usage.length));
  return 'xenkit monitor commands:\n' +
    cmds.map((c) => `  monitor ${c.usage.padEnd(width)}  ${c.help}\n`).join('');
}

/**
 * Run one monitor command line and return the text for gdb (always ending
 * in a newline). An empty line is `help`.
 */
export function runMonitor(line: string, handlers: MonitorHandlers, thread: ThreadId): string {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  const name = words[0] ?? 'help';
  const cmd = TABLE.find((c) => c.name === name && c.available(handlers));
  let text: string;
  if (cmd !== undefined) text = cmd.run(handlers, words.slice(1), thread);
  else text = handlers.other?.(line.trim()) ?? `unknown monitor command "${name}"; "monitor help" lists them\n`;
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}
