/**
 * Rewriting a cassette with some of its interactions (prune), or with those of several (merge),
 * keeping each interaction's text exactly as it is in its file (go-vcr's style, keys this proxy
 * does not know, comments): only removed interactions and renumbered ids change, so a diff of the
 * result shows just that. An interaction whose text cannot be cut out safely is written anew,
 * and the result is parsed back and compared with what was intended before it is used.
 */
import { isDeepStrictEqual } from 'node:util';
import { CASSETTE_PREAMBLE, cassetteText, parseCassette, serializeInteraction } from './codec.js';
import type { Interaction } from './types.js';

/** An interaction with its text in the file it came from, when that could be cut out. */
export interface SourcedInteraction {
  interaction: Interaction;
  text?: string;
}

export interface SourcedCassette {
  interactions: SourcedInteraction[];
  /** The file up to its interactions (`---`, `version: 2`, `interactions:`), when laid out as usual. */
  header?: string;
}

/** How go-vcr (yaml.v3) and this proxy indent an interaction; its `id` comes first. */
const ITEM_START = /^ {4}- /gm;
const ID_LINE = /^ {4}- id: \d+/;
const INTERACTIONS_KEY = /^interactions:[ \t]*\r?\n/m;

/** The `interactions` parsed from cassette text `text`, each with its own text where it can be cut out. */
export function sourced(text: string, interactions: readonly Interaction[]): SourcedCassette {
  const cut = cutInteractions(text, interactions.length);
  return { interactions: interactions.map((interaction, i) => ({ interaction, text: cut?.texts[i] })), header: cut?.header };
}

/**
 * Each interaction's text, when the list starts right after a top-level `interactions:` and every
 * item starts at go-vcr's indentation with its `id`: no line inside an item can start that way
 * (its keys and block scalars are indented deeper), so the item starts are the interactions.
 */
function cutInteractions(text: string, count: number): { header: string; texts: string[] } | undefined {
  const key = INTERACTIONS_KEY.exec(text);
  if (!key) return undefined;
  const listAt = key.index + key[0].length;
  const list = text.slice(listAt);
  const starts = [...list.matchAll(ITEM_START)].map((m) => m.index);
  if (count === 0 || starts.length !== count || starts[0] !== 0) return undefined;
  const texts = starts.map((start, i) => {
    const item = list.slice(start, starts[i + 1] ?? list.length);
    return item.endsWith('\n') ? item : `${item}\n`;
  });
  return texts.every((t) => ID_LINE.test(t)) ? { header: text.slice(0, listAt), texts } : undefined;
}

/**
 * The text of a cassette holding `items` with ids 0, 1, 2…: each in its own text where it has one,
 * after `header` (go-vcr's `---`, `version: 2`, `interactions:` by default). Whenever that does not
 * parse back to exactly these interactions, all of them are written anew in this proxy's style.
 */
export function cassetteTextOf(items: readonly SourcedInteraction[], header = `${CASSETTE_PREAMBLE}interactions:\n`): string {
  const renumbered = items.map(({ interaction }, id) => ({ ...interaction, id }));
  const anew = (): string => cassetteText(renumbered.map(serializeInteraction));
  if (items.length === 0) return anew();
  const kept = header + items.map(({ text }, id) => (text === undefined ? serializeInteraction(renumbered[id]!) : text.replace(ID_LINE, `    - id: ${id}`))).join('');
  try {
    if (isDeepStrictEqual(parseCassette(kept, 'the rewritten cassette').interactions, renumbered)) return kept;
  } catch {
    // Not what was intended: written anew below.
  }
  return anew();
}
