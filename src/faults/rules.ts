/**
 * Fault rules: which requests get which faults, for a share of the traffic. The choice is
 * reproducible: each rule draws for the n-th request it matches (counted in arrival order, from when
 * the rules were set) from a hash of the seed, the rule's position and n, so the same rules with the
 * same seed fault the same requests of a run, whatever the other rules matched.
 */
import { randomInt } from 'node:crypto';
import type { FaultRule, FaultRuleSet } from '../config.js';
import { ProxyError } from '../errors.js';
import { parseFaults, type Fault } from './catalogue.js';

/** What a rule is checked against. */
export interface RequestFacts {
  method: string;
  /** The path, without the query. */
  path: string;
  upstream: string;
}

interface CompiledRule {
  faults: Fault[];
  rate: number;
  matches(facts: RequestFacts): boolean;
  /** How many requests it matched so far. */
  seen: number;
}

const FIELDS = ['fault', 'rate', 'path', 'upstream', 'method'];
const EXAMPLE = '{"rules":[{"fault":"rate-limit","rate":0.1,"path":"/v1/chat/completions"}],"seed":42}';
const MAX_RULES = 100;
const MAX_SEED = 2 ** 32 - 1;

/** Rules from JSON (a `--faults` file, a `PUT /_proxy/faults` body), checked; throws an `invalid_request` ProxyError saying what is wrong. */
export function checkRuleSet(value: unknown): FaultRuleSet {
  const refuse = (problem: string, param?: string): never => {
    throw new ProxyError('invalid_request', `fault rules: ${problem}; give them as ${EXAMPLE} (see docs/faults.md)`, { param });
  };
  if (!isObject(value)) return refuse('must be a JSON object');
  const unknown = Object.keys(value).filter((key) => key !== 'rules' && key !== 'seed');
  if (unknown.length > 0) refuse(`unknown field ${unknown.join(', ')}; there are "rules" and "seed"`, unknown[0]);
  const { rules, seed = randomInt(0, MAX_SEED) } = value;
  if (!Array.isArray(rules)) return refuse('"rules" must be a list', 'rules');
  if (rules.length > MAX_RULES) refuse(`at most ${MAX_RULES} rules, got ${rules.length}`, 'rules');
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) refuse(`"seed" must be a whole number from 0 to ${MAX_SEED}`, 'seed');
  return {
    seed: seed as number,
    rules: rules.map((rule: unknown, i): FaultRule => {
      const at = `rules[${i}]`;
      if (!isObject(rule)) return refuse(`${at} must be an object`, at);
      const extra = Object.keys(rule).filter((key) => !FIELDS.includes(key));
      if (extra.length > 0) refuse(`${at} has unknown field ${extra.join(', ')}; a rule has ${FIELDS.join(', ')}`, `${at}.${extra[0]}`);
      const { fault, rate = 1, path, upstream, method } = rule;
      if (typeof fault !== 'string') return refuse(`${at}.fault must be a string such as "rate-limit"`, `${at}.fault`);
      parseFaults(fault, `${at}.fault`);
      if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) refuse(`${at}.rate must be a number from 0 to 1`, `${at}.rate`);
      for (const [name, field] of Object.entries({ path, upstream, method })) {
        if (field !== undefined && (typeof field !== 'string' || field === '')) refuse(`${at}.${name} must be a non-empty string`, `${at}.${name}`);
      }
      if (typeof path === 'string' && !path.startsWith('/')) refuse(`${at}.path must start with /`, `${at}.path`);
      return { fault, rate: rate as number, ...(path !== undefined && { path: path as string }), ...(upstream !== undefined && { upstream: upstream as string }), ...(method !== undefined && { method: (method as string).toUpperCase() }) };
    }),
  };
}

/** Checked rules at work: each request they match advances their counts. */
export class FaultRules {
  private readonly compiled: CompiledRule[];

  constructor(readonly set: FaultRuleSet) {
    this.compiled = set.rules.map((rule, i) => ({
      faults: parseFaults(rule.fault, `rules[${i}].fault`),
      rate: rule.rate,
      matches: matcher(rule),
      seen: 0,
    }));
  }

  /**
   * The faults for a request: those of the first rule that matches it and whose draw falls within
   * its rate. Every rule that matches counts the request, whether or not an earlier one faulted it.
   */
  choose(facts: RequestFacts): Fault[] | undefined {
    let chosen: Fault[] | undefined;
    for (const [i, rule] of this.compiled.entries()) {
      if (!rule.matches(facts)) continue;
      const n = rule.seen++;
      if (!chosen && draw(this.set.seed, i, n) < rule.rate) chosen = rule.faults;
    }
    return chosen;
  }
}

function matcher({ path, upstream, method }: FaultRule): (facts: RequestFacts) => boolean {
  const prefix = path?.endsWith('*') ? path.slice(0, -1) : undefined;
  return (facts) =>
    (path === undefined || (prefix !== undefined ? facts.path.startsWith(prefix) : facts.path === path)) &&
    (upstream === undefined || facts.upstream === upstream) &&
    (method === undefined || facts.method.toUpperCase() === method);
}

/** A number in [0, 1) from the seed, the rule's position and the request's count (murmur3's finaliser, chained). */
export function draw(seed: number, rule: number, n: number): number {
  const high = Math.floor(n / 2 ** 32);
  // The constants keep a zero input from mapping to zero (murmur3's finaliser fixes 0).
  return mix(mix(mix(mix(seed ^ 0x9e3779b9) ^ rule ^ 0x7f4a7c15) ^ (n >>> 0)) ^ high) / 2 ** 32;
}

function mix(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
