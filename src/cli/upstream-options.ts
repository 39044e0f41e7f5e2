/**
 * --upstream, --provider and --upstream-key: several upstreams, each with a name, a profile and
 * perhaps a key the proxy holds. `--upstream URL` is the default upstream, named after its profile;
 * `--upstream NAME=URL` is reached by the path prefix /NAME/, and the first one is the default
 * when no plain URL is given. `--provider` and `--upstream-key` take NAME=VALUE, or a plain value
 * for the default upstream.
 */
import { parseUpstream, type UpstreamSetting } from '../config.js';
import { PROFILES, profileForHost, profileNamed } from '../providers/registry.js';

type Bad = (flag: string, problem: string) => never;

/**
 * What a name may be: a path segment that needs no escaping and a metric label, so lower-case
 * letters, digits and hyphens, starting with a letter (never `_proxy`, the admin API's). Not a
 * version such as `v1` or `v1beta`: those begin the paths the SDKs send to the default upstream.
 */
const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const VERSION = /^v\d/;
/** What a POSIX shell accepts as a variable name. */
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function nameProblem(name: string): string | undefined {
  if (!NAME.test(name)) return `the upstream name "${name}" must be 1 to 40 lower-case letters, digits and hyphens, starting with a letter`;
  if (VERSION.test(name)) return `the upstream name "${name}" looks like an API version (v1, v1beta), which begins the paths the SDKs send: choose another`;
  return undefined;
}

/** `NAME=VALUE` → [NAME, VALUE]; a value without a name (no `=` before any `:` or `/`) → [undefined, VALUE]. */
function split(text: string): [string | undefined, string] {
  const named = /^([^=:/]*)=(.*)$/s.exec(text);
  return named ? [named[1]!, named[2]!] : [undefined, text];
}

/** `forwards`: whether the starting mode sends requests upstream; a replay-only start needs no key, so an unset key variable is refused only then. */
export function upstreamSettings(upstreamValues: readonly string[], providerValues: readonly string[], keyValues: readonly string[], env: NodeJS.ProcessEnv, forwards: boolean, bad: Bad): UpstreamSetting[] {
  let plain: UpstreamSetting | undefined;
  const named: UpstreamSetting[] = [];
  for (const text of upstreamValues) {
    const [name, urlText] = split(text);
    const url = parseUpstream(urlText);
    if (typeof url === 'string') bad('upstream', url);
    if (name === undefined) {
      if (plain) bad('upstream', `gives two plain URLs (${plain.url.href}, ${url.href}); give at most one (the default upstream), and the others as NAME=URL`);
      plain = { name: '', url, prefixed: false };
      continue;
    }
    const problem = nameProblem(name);
    if (problem) bad('upstream', problem);
    if (named.some((u) => u.name === name)) bad('upstream', `names two upstreams "${name}"; each name once`);
    named.push({ name, url, prefixed: true });
  }
  const byName = (flag: string, name: string | undefined): UpstreamSetting => {
    const found = name === undefined ? (plain ?? named[0]) : [...named, ...(plain ? [plain] : [])].find((u) => u.name === name);
    if (!found) bad(flag, `names the upstream "${name}", which --upstream does not give (${[...(plain ? [plain] : []), ...named].map((u) => u.name || 'the default').join(', ')})`);
    return found;
  };
  // The plain URL's profile names it, so a plain --provider applies first.
  const providers = providerValues.map(split);
  for (const [name, kind] of providers) {
    if (!profileNamed(kind)) bad('provider', `"${kind}" is not a provider; give one of ${PROFILES.map((p) => p.name).join(', ')}`);
    if (name === undefined) (plain ?? byName('provider', undefined)).provider = kind;
  }
  if (plain) {
    plain.name = plain.provider ?? profileForHost(plain.url).name;
    if (named.some((u) => u.name === plain!.name)) {
      bad('upstream', `the plain URL ${plain.url.href} is the default upstream, named after its provider "${plain.name}", and another upstream is named so too; rename that one, or give the default as NAME=URL first instead of a plain URL`);
    }
  }
  for (const [name, kind] of providers) if (name !== undefined) byName('provider', name).provider = kind;
  for (const [name, variable] of keyValues.map(split)) {
    const upstream = byName('upstream-key', name);
    if (!VARIABLE.test(variable)) bad('upstream-key', `"${variable}" is not an environment variable name; give NAME=ENV_VAR, e.g. anthropic=ANTHROPIC_API_KEY`);
    if (!env[variable] && forwards) bad('upstream-key', `the environment variable ${variable} (the key for the upstream ${upstream.name}) is not set or empty`);
    upstream.keyVariable = variable;
  }
  return plain ? [plain, ...named] : named;
}
