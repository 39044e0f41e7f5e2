/**
 * `cassette-proxy merge <out> <in…>`: one cassette from several (one per replica, say). The order
 * is stable: inputs as given (a folder's cassettes sorted), each one's interactions in file order.
 * An exact duplicate (the same request and the same answer, ids aside) is dropped, the first one
 * kept; the same request with another answer is a genuine repeat and stays, in order, for replay
 * to answer in turn.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { serializeInteraction } from '../cassette/codec.js';
import type { SourcedInteraction } from '../cassette/rewrite.js';
import type { Version } from '../storage/backend.js';
import { cassetteFiles, loadCassette, problemWith, storage, writeCassette } from './cassette-files.js';
import { toolCommand } from './command.js';

/** Returns the exit status: 0, or 1 when an input could not be read or `<out>` could not (or may not) be written. */
export async function runMerge(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = await toolCommand(argv, 'merge <out> <in..>', 'Combine cassettes into <out>: inputs in the order given, interactions in file order, exact duplicates dropped, ids renumbered; <out> is replaced atomically')
    .positional('out', { type: 'string', demandOption: true, describe: 'The cassette to write; it may be one of the inputs' })
    .positional('in', { type: 'string', array: true, demandOption: true, describe: 'Cassette files, or folders to search for .yaml/.yml files' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace <out> when it exists and is not one of the inputs (its interactions are then lost)' })
    .parseAsync();
  const target = path.resolve(String(args.out));
  const inputs = await cassetteFiles(args.in as string[]);
  const isInput = inputs.some((file) => path.resolve(file) === target);
  const shownTarget = storage.show(target);
  if (!isInput && !args.force && (await storage.version(target).catch(() => undefined)) !== undefined) {
    err.write(`cassette-proxy merge: ${shownTarget} exists and is not one of the inputs; name it as an input to merge into it, or give --force to replace it\n`);
    return 1;
  }
  try {
    // Held from the first read to the rename: a proxy recording into <out> meanwhile would lose its saves.
    return await storage.withLease(target, async () => {
      // <out> is replaced only as it was read (as an input), or as it was when the lease was taken.
      let expected: Version | null = isInput ? null : ((await storage.version(target)) ?? null);
      const kept: SourcedInteraction[] = [];
      const seen = new Set<string>();
      let duplicates = 0;
      for (const file of inputs) {
        const shown = storage.show(file);
        let loaded;
        try {
          loaded = await loadCassette(file);
        } catch (error) {
          err.write(`cassette-proxy merge: ${problemWith(shown, error)}; nothing written\n`);
          return 1;
        }
        if (path.resolve(file) === target) {
          if (loaded.pending) {
            err.write(`cassette-proxy merge: ${shown}: a save is under way (is a proxy recording into it?); nothing written\n`);
            return 1;
          }
          expected = loaded.version;
        }
        for (const item of loaded.interactions) {
          const key = createHash('sha256').update(serializeInteraction({ ...item.interaction, id: 0 })).digest('base64');
          if (seen.has(key)) duplicates++;
          else {
            seen.add(key);
            kept.push(item);
          }
        }
      }
      try {
        await writeCassette(target, kept, expected);
      } catch (error) {
        err.write(`cassette-proxy merge: ${problemWith(shownTarget, error)}\n`);
        return 1;
      }
      out.write(`${shownTarget}: ${kept.length} interaction(s) from ${inputs.length} cassette(s); ${duplicates} exact duplicate(s) dropped\n`);
      return 0;
    });
  } catch (error) {
    err.write(`cassette-proxy merge: ${problemWith(shownTarget, error)}; nothing written\n`);
    return 1;
  }
}
