/** Runs the built `cassette-proxy` bin as a child process, the way users and the image run it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './paths.js';

export const BIN = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface ProxyProcess {
  child: ChildProcess;
  /** The startup line. */
  banner: string;
  /** http://host:port, read from the startup line. */
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Sends a signal and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  bin?: string;
  /** Starts the process with at most this many open file descriptors (`ulimit -n`). */
  fdLimit?: number;
}

/** Starts the bin and waits for its startup line (at most 10 s). */
export async function spawnProxy(t: TestContext, args: string[], options: SpawnOptions = {}): Promise<ProxyProcess> {
  const command = [process.execPath, ...(options.nodeArgs ?? []), options.bin ?? BIN, ...args];
  if (options.fdLimit) command.unshift('/bin/sh', '-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`);
  const child = spawn(command[0]!, command.slice(1), {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no startup line within 10 s; stderr: ${err}`)), 10_000);
    const check = (): void => {
      const line = out.split('\n').find((l) => l.includes('listening on'));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before its startup line; stderr: ${err}`));
    });
  });
  const url = /listening on (http:\/\/\S+?),/.exec(banner)?.[1];
  if (!url) throw new Error(`no address in startup line: ${banner}`);
  return {
    child,
    banner,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs the bin to completion (for flags that make it exit), with a 10 s limit. */
export async function runBin(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}
