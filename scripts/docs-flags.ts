/** `npm run docs:flags`: writes docs/flags.md from FLAGS (src/cli/flag-reference.ts). */
import { writeFile } from 'node:fs/promises';
import { renderFlagReference } from '../src/cli/flag-reference.js';

await writeFile(new URL('../../docs/flags.md', import.meta.url), renderFlagReference());
