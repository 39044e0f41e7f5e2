/**
 * The settings the admin API changes at runtime: the mode and the default cassette (its name, and
 * the file requests without `x-cassette` use), and the replay positions it rewinds.
 */
import type { ModeChange } from '../admin/routes.js';
import { cassettePath, displayPath, type CassetteNames } from '../storage/names.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Mode } from '../mode.js';
import type { ReplayCassettes } from '../replay/cassettes.js';
import { checkedName } from './naming.js';

export class AdminState {
  mode: Mode;
  /** The default cassette's name, and its file. */
  cassette: string;
  file: string;

  constructor(
    private readonly config: Pick<Config, 'mode' | 'cassette' | 'cassetteDir'>,
    private readonly names: CassetteNames,
    private readonly replayCassettes: ReplayCassettes,
    private readonly log: Logger,
  ) {
    this.mode = config.mode;
    this.cassette = config.cassette;
    this.file = cassettePath(config.cassetteDir, config.cassette);
  }

  current(): { mode: Mode; cassette: string } {
    return { mode: this.mode, cassette: this.cassette };
  }

  async switchTo(change: ModeChange): Promise<void> {
    // Refused (invalid_cassette_name) before anything changes, as a request naming it would be.
    if (change.cassette !== undefined) await this.names.resolve(checkedName(change.cassette));
    const before = this.current();
    if (change.cassette !== undefined) {
      this.file = cassettePath(this.config.cassetteDir, change.cassette);
      this.cassette = change.cassette;
    }
    if (change.mode !== undefined) this.mode = change.mode;
    this.log.info({ from: before, to: this.current() }, 'mode changed');
  }

  /** Rewinds the replay positions of one cassette (by name) or of all; answers the files rewound, as shown. */
  async rewind(cassette?: string): Promise<string[]> {
    const file = cassette === undefined ? undefined : await this.names.resolve(checkedName(cassette));
    const rewound = this.replayCassettes.rewind(file).map(displayPath);
    this.log.info({ cassettes: rewound }, 'replay rewound');
    return rewound;
  }
}
