// The last N things the allocator did (alloc, free, split, merge, fail, pcp-drain), each stamped
// with the hypercall it happened in: a fixed ring of typed arrays filled by a BuddyListener, so it
// costs no allocation per event. `buddy86 boot --event-tail N` prints it; a checkpoint keeps it, so
// a restored run ends with the same tail as the run it continues (the snapshot round-trip test
// compares them).

import type { BuddyListener } from "../mem/index.js";
import type { CallSource } from "./poison.js";

export const TAIL_KINDS = ["alloc", "free", "split", "merge", "fail", "pcp-drain", "alloc-contig", "free-contig"] as const;
export type TailKind = (typeof TAIL_KINDS)[number];

/** One event as printed: pfn/order/zone/gfp are -1 where they do not apply. */
export interface TailEvent {
  seq: number;
  kind: TailKind;
  pfn: number;
  /** The order, or npages for contig events and pcp-drain frames. */
  size: number;
  zone: number;
  gfp: number;
  injected: boolean;
}

export interface EventTailState {
  capacity: number;
  total: number;
  seq: Float64Array;
  kind: Uint8Array;
  pfn: Int32Array;
  size: Float64Array;
  zone: Int8Array;
  gfp: Int32Array;
}

export class EventTail implements BuddyListener {
  /** Events seen in all. */
  total = 0;
  private readonly seqs: Float64Array;
  private readonly kinds: Uint8Array;
  private readonly pfns: Int32Array;
  /** Order, frames, or -npages of a failed contig request: up to 2^32 - 1 pages, so not an int32. */
  private readonly sizes: Float64Array;
  private readonly zones: Int8Array;
  private readonly gfps: Int32Array;

  constructor(
    readonly capacity: number,
    private readonly source: CallSource,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 1 << 20)) throw new Error(`--event-tail ${capacity}: use 1..1048576`);
    this.seqs = new Float64Array(capacity);
    this.kinds = new Uint8Array(capacity);
    this.pfns = new Int32Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.zones = new Int8Array(capacity);
    this.gfps = new Int32Array(capacity);
  }

  alloc(pfn: number, order: number, zone: number, gfp: number): void {
    this.push(0, pfn, order, zone, gfp);
  }
  free(pfn: number, order: number, zone: number): void {
    this.push(1, pfn, order, zone, -1);
  }
  split(pfn: number, order: number, zone: number): void {
    this.push(2, pfn, order, zone, -1);
  }
  merge(pfn: number, order: number, zone: number): void {
    this.push(3, pfn, order, zone, -1);
  }
  fail(order: number, gfp: number, injected: boolean): void {
    // Contig failures come as -npages; the injected bit rides in the zone slot (-2 injected, -1 not).
    this.push(4, -1, order, injected ? -2 : -1, gfp);
  }
  pcpDrain(zone: number, frames: number): void {
    this.push(5, -1, frames, zone, -1);
  }
  allocContig(pfn: number, npages: number, zone: number, gfp: number): void {
    this.push(6, pfn, npages, zone, gfp);
  }
  freeContig(pfn: number, npages: number, zone: number): void {
    this.push(7, pfn, npages, zone, -1);
  }

  /** The kept events, oldest first. */
  events(): TailEvent[] {
    const n = Math.min(this.total, this.capacity);
    const out: TailEvent[] = [];
    for (let k = this.total - n; k < this.total; k++) {
      const i = k % this.capacity;
      const kind = TAIL_KINDS[this.kinds[i]!]!;
      const failed = kind === "fail";
      out.push({ seq: this.seqs[i]!, kind, pfn: this.pfns[i]!, size: this.sizes[i]!, zone: failed ? -1 : this.zones[i]!, gfp: this.gfps[i]!, injected: failed && this.zones[i] === -2 });
    }
    return out;
  }

  getState(): EventTailState {
    return { capacity: this.capacity, total: this.total, seq: this.seqs.slice(), kind: this.kinds.slice(), pfn: this.pfns.slice(), size: this.sizes.slice(), zone: this.zones.slice(), gfp: this.gfps.slice() };
  }

  setState(s: EventTailState): void {
    if (s.capacity !== this.capacity) throw new Error(`EventTail.setState: a tail of ${s.capacity} events, this one keeps ${this.capacity}`);
    this.total = s.total;
    this.seqs.set(s.seq);
    this.kinds.set(s.kind);
    this.pfns.set(s.pfn);
    this.sizes.set(s.size);
    this.zones.set(s.zone);
    this.gfps.set(s.gfp);
  }

  private push(kind: number, pfn: number, size: number, zone: number, gfp: number): void {
    const i = this.total++ % this.capacity;
    this.seqs[i] = this.source.seq();
    this.kinds[i] = kind;
    this.pfns[i] = pfn;
    this.sizes[i] = size;
    this.zones[i] = zone;
    this.gfps[i] = gfp;
  }
}

/** "call 1234 alloc pfn 0x1a2 order 3 zone 1 gfp 0x2" lines. */
export function formatTail(events: readonly TailEvent[]): string {
  return events
    .map((e) => {
      const parts = [`call ${e.seq}`, e.kind];
      if (e.pfn >= 0) parts.push(`pfn 0x${e.pfn.toString(16)}`);
      parts.push(e.kind.endsWith("contig") || e.kind === "pcp-drain" ? `${e.size} frames` : e.size < 0 ? `${-e.size} frames` : `order ${e.size}`);
      if (e.zone >= 0) parts.push(`zone ${e.zone}`);
      if (e.gfp >= 0) parts.push(`gfp 0x${e.gfp.toString(16)}`);
      if (e.injected) parts.push("injected");
      return parts.join(" ");
    })
    .join("\n");
}
