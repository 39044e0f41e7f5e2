/**
 * Recording, written once: a cassette's lease before anything is forwarded, then the copy of a
 * completed exchange → an interaction (capture.ts) → the afterCapture and beforeSave hooks
 * (redaction among them, last) → the cassette's store.
 */
import type { CassetteStore } from '../storage/store.js';
import { displayPath } from '../storage/names.js';
import { describeCause } from '../errors.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Hooks } from '../exchange/hooks.js';
import type { Logger } from '../log.js';
import { toInteraction } from './capture.js';

export class Recorder {
  constructor(
    private readonly store: CassetteStore,
    private readonly hooks: Hooks,
    private readonly log: Logger,
  ) {}

  /** One writer per cassette: an exchange for a cassette that another process records into is refused before it is forwarded. */
  claim(exchange: Exchange): Promise<void> {
    return this.store.claim(exchange.file);
  }

  /**
   * Hands the exchange's copy, once it completed, to its cassette's store. `recorded` means exactly
   * this: a completed exchange was copied and the store took it (the store logs and counts a failed
   * save itself, and keeps the interaction for the next save).
   */
  record(exchange: Exchange): void {
    const { capture } = exchange;
    // The store keeps the interaction as YAML: the copy's bytes need not live as long as the exchange.
    exchange.capture = undefined;
    // An answer a fault changed is not the upstream's behaviour: it is never saved.
    if (!capture || exchange.fault !== undefined) return;
    const cassette = this.store.file(exchange.file);
    try {
      let interaction = toInteraction(capture);
      if (this.hooks.afterCapture) interaction = this.hooks.afterCapture(interaction, exchange);
      if (this.hooks.beforeSave) interaction = this.hooks.beforeSave(interaction, exchange);
      cassette.add(interaction).catch(() => undefined);
      exchange.outcome = 'recorded';
    } catch (err) {
      this.log.error({ err: describeCause(err), cassette: displayPath(exchange.file) }, 'could not turn the exchange into an interaction; it is not saved');
      cassette.notRecorded(err);
    }
  }
}
