/**
 * The documentation's relative links lead somewhere: every link in README.md, CHANGELOG.md,
 * docs/, examples/ and bench/README.md to a file names one that exists, every `#anchor` a heading
 * of its page, and every test a guarantee names (`e2e/record`) is a test file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';

/** What a path holds: a folder, a file's text, or nothing. */
type Reader = (file: string) => 'folder' | string | undefined;

const disk: Reader = (file) => {
  if (!existsSync(file)) return undefined;
  return statSync(file).isDirectory() ? 'folder' : readFileSync(file, 'utf8');
};

/** Markdown without what holds no links: fenced code blocks, HTML comments; code spans become `code`. */
function prose(markdown: string): string {
  return markdown
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/`[^`\n]+`/g, 'code');
}

/** GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const text = heading!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** The broken relative links of one markdown file, as `file: target (why)`. */
function brokenLinks(file: string, read: Reader): string[] {
  const text = read(file);
  if (text === undefined || text === 'folder') return [`${file}: cannot be read`];
  const problems: string[] = [];
  for (const [, target] of prose(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
    const [where, anchor] = target!.split('#', 2) as [string, string | undefined];
    const resolved = where === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(where));
    const content = read(resolved);
    if (content === undefined) problems.push(`${file}: ${target} (no such file)`);
    else if (anchor !== undefined && (content === 'folder' || !anchors(content).has(anchor))) problems.push(`${file}: ${target} (no such heading)`);
  }
  return problems;
}

/** Tests named the way the guarantees name them (`e2e/record` for test/e2e/record.test.ts) that do not exist. */
function missingTests(file: string, text: string): string[] {
  return [...text.matchAll(/`(unit|e2e|process|property)\/([a-z0-9-]+)`/g)]
    .filter(([, dir, name]) => !existsSync(path.join(REPO_ROOT, 'test', dir!, `${name}.test.ts`)))
    .map(([named]) => `${file}: ${named} (no such test file)`);
}

function markdownFiles(): string[] {
  const under = (dir: string): string[] =>
    readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.md') && !f.split(path.sep).includes('node_modules'))
      .map((f) => path.join(REPO_ROOT, dir, f));
  return [...['README.md', 'CHANGELOG.md', 'bench/README.md'].map((f) => path.join(REPO_ROOT, f)), ...under('docs'), ...under('examples')];
}

test('the link checker finds a missing file, a missing heading and a link into a folder by anchor', () => {
  const files: Record<string, string> = {
    '/r/README.md': '# Top\n\n## Set-up `npm`\n\n[ok](docs/a.md#matching-and-replay) [ok](#set-up-npm) [ok](docs/) [web](https://x.test/y)\n' +
      '[gone](docs/gone.md) [bad anchor](docs/a.md#nowhere) [bad here](#nope) `[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n',
    '/r/docs/a.md': '# Matching and replay\n\n[up](../README.md#top) [folder anchor](../docs#x)\n',
  };
  const read: Reader = (file) => files[file] ?? (file === '/r/docs' ? 'folder' : undefined);
  assert.deepEqual(brokenLinks('/r/README.md', read), [
    '/r/README.md: docs/gone.md (no such file)',
    '/r/README.md: docs/a.md#nowhere (no such heading)',
    '/r/README.md: #nope (no such heading)',
  ]);
  assert.deepEqual(brokenLinks('/r/docs/a.md', read), ['/r/docs/a.md: ../docs#x (no such heading)']);
});

test("headings' anchors as GitHub makes them", () => {
  const found = anchors("# A\n## Browsers on the developer's machine\n## Nearest answers (staging)\n### `scan` and `redact`\n## A\n```\n# not a heading\n```\n");
  assert.deepEqual([...found], ['a', 'browsers-on-the-developers-machine', 'nearest-answers-staging', 'scan-and-redact', 'a-1']);
});

test('every relative link in the documentation leads to an existing file and heading', () => {
  const files = markdownFiles();
  assert.ok(files.some((f) => f.endsWith(path.join('docs', 'flags.md'))));
  assert.deepEqual(files.flatMap((file) => brokenLinks(file, disk)).map((p) => p.replace(REPO_ROOT, '')), []);
});

test('every test file the documentation names exists', () => {
  const named = markdownFiles().flatMap((file) => missingTests(path.relative(REPO_ROOT, file), readFileSync(file, 'utf8')));
  assert.deepEqual(named, []);
});
