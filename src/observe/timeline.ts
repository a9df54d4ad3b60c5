// The allocator's free lists over time, sampled between calls with a bounded budget: every `interval`
// calls a sample of the free frames and per-CPU frames per zone and the free blocks per zone and order;
// when the budget is full every other sample is dropped and the interval doubles, so any run, short
// or long, ends with between half and all of `capacity` evenly spaced samples. The trace's counter
// tracks and the fragmentation chart are drawn from these samples.

import { LIST_STRIDE, ZONE_COUNT } from "../mem/index.js";
import type { EventHub } from "./event-hub.js";
import type { EventSubscriber } from "./events.js";

export const DEFAULT_TIMELINE_CAPACITY = 2048;

/** The samples as plain data: what a trace stores and the chart reads. */
export interface TimelineData {
  maxOrder: number;
  /** Zones present (indices into DMA, Normal, HighMem). */
  zones: number[];
  /** Per sample: the call after which it was taken. */
  seq: number[];
  /** Per sample, per present zone: frames on the buddy lists. */
  freeFrames: number[][];
  /** Per sample, per present zone: frames on the per-CPU lists. */
  pcpFrames: number[][];
  /** Per sample, per present zone, per order: free blocks on the buddy lists. */
  freeBlocks: number[][][];
}

export class Timeline implements EventSubscriber {
  /** Calls between samples (doubles as the budget fills). */
  interval = 1;
  /** Times the samples were thinned (each kept samples 0, 2, 4, ...): a copy can thin itself alike. */
  halvings = 0;
  private rows = 0;
  /** Set at the first sample, from the allocator MEMMAP built. */
  private maxOrder = -1;
  private stride = 0;
  private data = new Float64Array(0);
  private lastSeq = -1;
  /** The next call onCallEnd looks at (the next multiple of the interval). */
  private nextSeq = 0;

  constructor(
    private readonly hub: EventHub,
    private readonly capacity = DEFAULT_TIMELINE_CAPACITY,
  ) {
    if (capacity < 2 || capacity % 2 !== 0) throw new Error(`Timeline: capacity ${capacity} must be even and >= 2`);
  }

  onCallEnd(seq: number): void {
    // The hub calls it from nextCallEnd on; the test stays for other callers.
    if (seq >= this.nextSeq) this.due(seq);
  }

  /** The next call onCallEnd looks at: the hub does not call it before (EventSubscriber.nextCallEnd). */
  get nextCallEnd(): number {
    return this.nextSeq;
  }

  /** Samples at a multiple of the interval, then finds the next multiple (the interval may double). */
  private due(seq: number): void {
    if (seq % this.interval === 0) this.sample(seq);
    this.nextSeq = seq - (seq % this.interval) + this.interval;
  }

  /** Takes a sample now (after call seq), e.g. at the end of the run; once per seq. */
  sample(seq: number): void {
    const buddy = this.hub.allocator;
    if (buddy === null || seq === this.lastSeq) return;
    if (this.maxOrder < 0) {
      this.maxOrder = buddy.maxOrder;
      this.stride = rowLength(this.maxOrder);
      this.data = new Float64Array(this.capacity * this.stride);
    }
    if (this.rows === this.capacity) this.halve();
    this.lastSeq = seq;
    const d = this.data;
    const p = this.rows * this.stride;
    d[p] = seq;
    // One pass over the free-list counts: each zone's free frames are its blocks' (zoneFreeFrames,
    // with its shift: `2 ** o` would call pow() per order).
    const orders = this.maxOrder + 1;
    const nrFree = buddy.nrFree;
    for (let z = 0, q = p + 1 + 2 * ZONE_COUNT; z < ZONE_COUNT; z++) {
      let frames = 0;
      for (let o = 0; o < orders; o++, q++) {
        const blocks = nrFree[z * LIST_STRIDE + o]!;
        d[q] = blocks;
        frames += blocks << o;
      }
      d[p + 1 + z] = frames;
      d[p + 1 + ZONE_COUNT + z] = buddy.pcpCount[z]!;
    }
    this.rows++;
  }

  /** Keeps samples 0, 2, 4, ... and doubles the interval (thinTimeline does the same to a copy). */
  private halve(): void {
    const s = this.stride;
    for (let r = 0; r < this.rows / 2; r++) this.data.copyWithin(r * s, 2 * r * s, 2 * r * s + s);
    this.rows /= 2;
    this.interval *= 2;
    this.halvings++;
  }

  /** Samples taken so far (kept). */
  get size(): number {
    return this.rows;
  }

  /** The samples so far from sample `from` on, for zones with managed frames. */
  toData(from = 0): TimelineData {
    return decodeSamples(this.data.subarray(Math.max(0, from) * this.stride, this.rows * this.stride), this.zones(), this.maxOrder);
  }

  /** A copy of the raw samples from sample `from` on (rowLength(maxOrder) numbers each). */
  rawSamples(from: number): Float64Array {
    return this.data.slice(Math.max(0, from) * this.stride, this.rows * this.stride);
  }

  /** Zones with managed frames. */
  zones(): number[] {
    const buddy = this.hub.allocator;
    const zones: number[] = [];
    for (let z = 0; z < ZONE_COUNT; z++) if (buddy !== null && buddy.zoneManaged[z]! > 0) zones.push(z);
    return zones;
  }

  /** The allocator's max order (-1 before the first sample). */
  get order(): number {
    return this.maxOrder;
  }
}

/** Numbers per raw sample: seq, free and per-CPU frames per zone, free blocks per zone and order. */
function rowLength(maxOrder: number): number {
  return 1 + 2 * ZONE_COUNT + ZONE_COUNT * (maxOrder + 1);
}

/** Raw samples (Timeline's rows, back to back) as TimelineData for the zones given. */
function decodeSamples(raw: Float64Array, zones: number[], maxOrder: number): TimelineData {
  const out: TimelineData = { maxOrder: Math.max(0, maxOrder), zones, seq: [], freeFrames: [], pcpFrames: [], freeBlocks: [] };
  const stride = rowLength(maxOrder);
  const orders = maxOrder + 1;
  for (let p = 0; p + stride <= raw.length; p += stride) {
    out.seq.push(raw[p]!);
    out.freeFrames.push(zones.map((z) => raw[p + 1 + z]!));
    out.pcpFrames.push(zones.map((z) => raw[p + 1 + ZONE_COUNT + z]!));
    out.freeBlocks.push(zones.map((z) => Array.from(raw.subarray(p + 1 + 2 * ZONE_COUNT + z * orders, p + 1 + 2 * ZONE_COUNT + (z + 1) * orders))));
  }
  return out;
}

/**
 * The samples a copy of a timeline (the web page's, across a worker boundary) is missing: how many
 * times to thin what it has, then the samples to append, raw (one transferable buffer: nothing to
 * build or clone per sample on the guest's thread). Only new samples travel, however long the run.
 */
export interface TimelineDelta {
  halvings: number;
  maxOrder: number;
  zones: number[];
  /** New samples, rowLength(maxOrder) numbers each. */
  raw: Float64Array;
}

/** Follows a live Timeline for one copy of it: each next() gives what the copy lacks since the last. */
export class TimelineFeed {
  private sentRows = 0;
  private sentHalvings = 0;

  constructor(private readonly timeline: Timeline) {}

  next(): TimelineDelta {
    const t = this.timeline;
    const halvings = t.halvings - this.sentHalvings;
    let have = this.sentRows;
    for (let k = 0; k < halvings; k++) have = Math.ceil(have / 2);
    this.sentHalvings = t.halvings;
    this.sentRows = t.size;
    return { halvings, maxOrder: t.order, zones: t.zones(), raw: t.rawSamples(have) };
  }
}

/**
 * A copy brought up to date with a delta: `have` itself when the delta is empty, else a new object
 * (so that a chart sees it changed) that takes over have's arrays and appends to them: keep using
 * the result, not `have`.
 */
export function applyTimelineDelta(have: TimelineData | null, delta: TimelineDelta): TimelineData {
  if (have !== null && delta.halvings === 0 && delta.raw.length === 0) return have;
  const d = decodeSamples(delta.raw, delta.zones, delta.maxOrder);
  if (have === null) return d;
  let base = have;
  for (let k = 0; k < delta.halvings; k++) base = thinTimeline(base);
  // Appended in place: copying every kept sample per packet cost the page's thread more than drawing
  // the chart (a run keeps up to 2048 samples and a packet brings a few).
  for (let i = 0; i < d.seq.length; i++) {
    base.seq.push(d.seq[i]!);
    base.freeFrames.push(d.freeFrames[i]!);
    base.pcpFrames.push(d.pcpFrames[i]!);
    base.freeBlocks.push(d.freeBlocks[i]!);
  }
  return { ...d, seq: base.seq, freeFrames: base.freeFrames, pcpFrames: base.pcpFrames, freeBlocks: base.freeBlocks };
}

/** What Timeline's thinning does to its samples, done to a copy of the first samples (0, 2, 4, ...). */
export function thinTimeline(data: TimelineData): TimelineData {
  const even = <T>(list: T[]): T[] => list.filter((_, i) => i % 2 === 0);
  return { ...data, seq: even(data.seq), freeFrames: even(data.freeFrames), pcpFrames: even(data.pcpFrames), freeBlocks: even(data.freeBlocks) };
}
