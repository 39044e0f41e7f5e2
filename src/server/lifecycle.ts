/**
 * Shutdown: stop accepting, let the exchanges in flight finish for a grace period (then cut them:
 * a cut stream is not saved), save what is pending, give up the cassette leases, release the
 * upstream connections, and report what each cassette holds.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CassetteSummary } from '../admin/routes.js';
import type { CassetteStore } from '../storage/store.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { Logger } from '../log.js';
import type { Usage } from './usage.js';

/** The exchanges in flight, so that shutdown can wait for them. */
export class InFlight {
  /** Set once shutdown began: exchanges that still arrive on open connections close theirs. */
  closing = false;
  private count = 0;
  private drained: (() => void) | undefined;

  begin(): void {
    this.count++;
  }

  end(): void {
    if (--this.count === 0) this.drained?.();
  }

  /** Waits until none is in flight, for up to `graceMs`; those still open then are about to be cut, which it logs. */
  async drain(graceMs: number, log: Logger): Promise<void> {
    if (this.count === 0) return;
    const allDone = new Promise<void>((resolve) => (this.drained = resolve));
    const cut = await Promise.race([allDone.then(() => false), sleep(graceMs, true, { ref: false })]);
    if (cut) log.warn({ inFlight: this.count, graceMs }, 'shutdown grace period over: cutting the exchanges still open (they are not saved)');
  }
}

export interface Running {
  server: http.Server;
  inFlight: InFlight;
  store: CassetteStore;
  forwarder: Forwarder;
  usage: Usage;
  log: Logger;
  /** WebSocket sessions still open after the grace period are closed with 1001 (and not saved). */
  sessions?: { closeAll(): void };
}

export async function shutdown({ server, inFlight, store, forwarder, usage, log, sessions }: Running, graceMs: number): Promise<CassetteSummary[]> {
  inFlight.closing = true;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await inFlight.drain(graceMs, log);
  sessions?.closeAll();
  server.closeAllConnections();
  await closed;
  await store.close();
  forwarder.close();
  return usage.logSummary(log);
}
