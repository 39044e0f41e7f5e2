/** Child processes for the benchmark: start a server and wait for its address, run a tool and read its JSON, read memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';

export interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `node <args>` and waits until it is ready: our helpers print `READY <url>` and the proxy
 * its startup line; for others, give `url` and a `ready` pattern to wait for.
 */
export async function startServer(args: string[], options: { env?: Record<string, string>; cwd?: string; url?: string; ready?: RegExp } = {}): Promise<Server> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address from ${args.join(' ')} within 15 s:\n${output}`)), 15_000);
    const check = (chunk: Buffer): void => {
      output += chunk;
      const found = options.url ?? /(?:READY |listening on )(http:\/\/[^\s,]+)/.exec(output)?.[1];
      if (found && (!options.ready || options.ready.test(output))) {
        clearTimeout(timer);
        // Stop collecting: a server that logs every request would otherwise make this process
        // copy all of its output so far on every chunk, taking CPU from the server it measures.
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        output = '';
        resolve(found.replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

/** Runs `node <args>` to completion and parses the last line it prints as JSON. */
export async function runJson<T>(args: string[]): Promise<T> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/**
 * Starts `node <args>` with a pipe on its stdin and waits until it prints `ready`; `stop()` closes
 * that stdin (the tool's signal to finish) and parses the last line it prints as JSON.
 */
export async function startJson<T>(args: string[], ready: string): Promise<{ stop(): Promise<T> }> {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not print ${ready} within 15 s`)), 15_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });
  return {
    async stop() {
      child.stdin.end();
      const [code] = await exited;
      if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
      return JSON.parse(out.trim().split('\n').at(-1)!) as T;
    },
  };
}

/** Resident memory of a process in MB: current (VmRSS) and peak since it started (VmHWM). */
export async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Resets a process's peak-memory mark to its current RSS (Linux: write 5 to clear_refs). */
export async function resetPeak(pid: number): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => undefined);
}

/** A free loopback port, for tools that cannot listen on port 0. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
