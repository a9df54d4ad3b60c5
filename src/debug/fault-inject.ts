// Deterministic fault injection (Linux fail_page_alloc, made reproducible): a FailPredicate for the
// allocator that makes chosen allocations return ENOMEM. Filters pick the candidate allocations
// (--fail-order, --fail-site); selectors pick which candidates fail (--fail-nth, --fail-every,
// --fail-probability with --seed). With filters and no selector, every candidate fails. Nothing reads
// a clock: the same kernel, inputs and options fail the same calls in every run.
//
// The allocator consults the predicate only for requests that passed validation, and reports each
// injected failure to its listener as fail(..., injected = true), so it shows up in traces.

import type { FailPredicate } from "../mem/index.js";
import type { CallSource } from "./poison.js";

export interface FaultOptions {
  /** Fail only the N-th candidate (1-based). */
  failNth?: number;
  /** Fail every N-th candidate (N, 2N, ...). */
  failEvery?: number;
  /** Candidates are allocations of at least this order (ALLOC_CONTIG: the order that covers npages). */
  failOrder?: number;
  /** Fail each candidate with this probability (0..1), drawn from a generator seeded with `seed`. */
  failProbability?: number;
  seed?: number;
  /** Candidates are allocations whose guest call stack has this function (needs a stack source). */
  failSite?: string;
}

/** One injected failure: the call it hit and the request. */
export interface InjectedFailure {
  seq: number;
  /** Order of an ALLOC_PAGES request; -1 for ALLOC_CONTIG. */
  order: number;
  npages: number;
  gfp: number;
}

export interface FaultState {
  attempts: number;
  candidates: number;
  injected: number;
  rng: number;
  log: InjectedFailure[];
}

/** The guest's call stack at the current hypercall, innermost first, as "function+0xoff" strings. */
export type StackSource = () => readonly string[];

const LOG_LIMIT = 1000;

/** Throws a message naming the option when the options cannot work. */
export function validateFaultOptions(o: FaultOptions): void {
  const count = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`${name} ${v}: use a whole number >= 1`);
  };
  count("--fail-nth", o.failNth);
  count("--fail-every", o.failEvery);
  if (o.failOrder !== undefined && !(Number.isInteger(o.failOrder) && o.failOrder >= 0 && o.failOrder <= 31))
    throw new Error(`--fail-order ${o.failOrder}: use an order 0..31`);
  if (o.failProbability !== undefined && !(o.failProbability >= 0 && o.failProbability <= 1))
    throw new Error(`--fail-probability ${o.failProbability}: use a number from 0 to 1`);
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff))
    throw new Error(`--seed ${o.seed}: use a whole number 0..4294967295`);
  if (o.failSite !== undefined && !/^[A-Za-z_.$][\w.$]*$/.test(o.failSite)) throw new Error(`--fail-site "${o.failSite}": give a function name`);
}

/** True when the options ask for any fault injection. */
export function faultsRequested(o: FaultOptions): boolean {
  return o.failNth !== undefined || o.failEvery !== undefined || o.failOrder !== undefined || o.failProbability !== undefined || o.failSite !== undefined;
}

export class FaultInjector {
  readonly options: FaultOptions;
  /** Allocation requests that reached the predicate. */
  attempts = 0;
  /** Requests that passed the filters. */
  candidates = 0;
  /** Requests made to fail. */
  injected = 0;
  /** The first LOG_LIMIT injected failures. */
  readonly log: InjectedFailure[] = [];
  /** The predicate to install as allocator.failPredicate. */
  readonly predicate: FailPredicate;
  /** Where --fail-site reads the guest's call stack; null: no stack, so no candidate matches. */
  stack: StackSource | null = null;

  private rng: number;
  private readonly source: CallSource;
  private readonly hasSelector: boolean;

  constructor(options: FaultOptions, source: CallSource) {
    validateFaultOptions(options);
    this.options = { ...options };
    this.source = source;
    this.rng = (options.seed ?? 1) >>> 0;
    this.hasSelector = options.failNth !== undefined || options.failEvery !== undefined || options.failProbability !== undefined;
    this.predicate = (order, npages, gfp) => this.decide(order, npages, gfp);
  }

  getState(): FaultState {
    return { attempts: this.attempts, candidates: this.candidates, injected: this.injected, rng: this.rng, log: this.log.map((f) => ({ ...f })) };
  }

  setState(s: FaultState): void {
    this.attempts = s.attempts;
    this.candidates = s.candidates;
    this.injected = s.injected;
    this.rng = s.rng >>> 0;
    this.log.length = 0;
    this.log.push(...s.log);
  }

  private decide(order: number, npages: number, gfp: number): boolean {
    this.attempts++;
    const o = this.options;
    if (o.failOrder !== undefined) {
      const effective = order >= 0 ? order : npages <= 1 ? 0 : 32 - Math.clz32(npages - 1);
      if (effective < o.failOrder) return false;
    }
    if (o.failSite !== undefined && !this.inSite(o.failSite)) return false;
    const n = ++this.candidates;
    let fail = !this.hasSelector;
    if (o.failNth !== undefined && n === o.failNth) fail = true;
    if (o.failEvery !== undefined && n % o.failEvery === 0) fail = true;
    // The generator advances once per candidate whatever else decided, so a run is reproducible.
    if (o.failProbability !== undefined && this.next() / 2 ** 32 < o.failProbability) fail = true;
    if (!fail) return false;
    this.injected++;
    if (this.log.length < LOG_LIMIT) this.log.push({ seq: this.source.seq(), order, npages, gfp });
    return true;
  }

  /** True when the guest's call stack has a frame in function `name` ("name" or "name+0x.."). */
  private inSite(name: string): boolean {
    if (this.stack === null) return false;
    for (const frame of this.stack()) {
      if (frame === name || (frame.startsWith(name) && frame.charCodeAt(name.length) === 0x2b /* + */)) return true;
    }
    return false;
  }

  /** mulberry32: a 32-bit generator with one word of state. */
  private next(): number {
    let t = (this.rng = (this.rng + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
