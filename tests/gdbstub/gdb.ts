/**
 * Helpers to drive the real gdb (`gdb --batch -nx`) against a GdbServer
 * listening on an ephemeral loopback port, with a hard time limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { GdbServer, type DebugTarget, type SessionOptions } from '../../src/gdbstub/index.js';

/** Is gdb installed? */
export const HAVE_GDB = spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0;

export interface GdbRun {
  stdout: string;
  stderr: string;
  status: number | null;
  /** The stub's log lines. */
  log: string[];
}

/** Start a server for `target` on 127.0.0.1:0. */
export async function startServer(target: DebugTarget, session: SessionOptions = {}): Promise<{ server: GdbServer; port: number; log: string[] }> {
  const log: string[] = [];
  const server = new GdbServer({
    target,
    createListener: (cb) => net.createServer(cb),
    session,
    log: (l) => log.push(l),
  });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, port, log };
}

/** Run gdb in batch mode with these -ex commands (after connecting); kill it after `timeoutMs`. */
export async function runGdb(target: DebugTarget, commands: readonly string[], opts: { timeoutMs?: number; before?: readonly string[]; session?: SessionOptions } = {}): Promise<GdbRun> {
  const { server, port, log } = await startServer(target, opts.session);
  const args = ['--batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off',
    ...(opts.before ?? []).flatMap((c) => ['-ex', c]),
    '-ex', `target remote 127.0.0.1:${port}`, ...commands.flatMap((c) => ['-ex', c])];
  try {
    return await new Promise<GdbRun>((resolve, reject) => {
      const child = spawn('gdb', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb', LC_ALL: 'C' } });
      let stdout = '', stderr = '';
      child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
      child.stdout.on('data', (d: string) => { stdout += d; });
      child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
      child.stderr.on('data', (d: string) => { stderr += d; });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`gdb timed out\n${stdout}\n${stderr}`)); }, opts.timeoutMs ?? 20_000);
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      child.on('close', (status) => { clearTimeout(timer); resolve({ stdout, stderr, status, log }); });
    });
  } finally {
    await server.close();
  }
}
