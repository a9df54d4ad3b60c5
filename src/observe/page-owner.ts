// Page owner, kept outside the guest (Linux mm/page_owner.c): for every block the guest was given,
// the backtrace of the call (from the guest's frame-pointer chain, interned in the hub's stack depot),
// the hypercall number, the instruction counter, order, npages and gfp; once freed, the free's site
// too. Allocations are rows of an append-only table of typed arrays, so "what was live after call N"
// is a scan of the table and the peak, a MARK or any call can be looked at after the run. Each frame
// also remembers the latest allocation that covered it, so an invalid free (double free, wrong order,
// interior frame) is reported with the offending call, the allocation and, for a double free, the
// first free.

import { Cmd, Status } from "../protocol/abi.js";
import type { AllocatorEvent, EventSubscriber } from "./events.js";
import type { EventHub } from "./event-hub.js";
import { grow } from "./stack-depot.js";

/** An invalid free: the offending request and what the page owner knew of the frame it named. */
export interface InvalidFree {
  status: number;
  /** FREE_PAGES or FREE_CONTIG. */
  cmd: number;
  seq: number;
  record: number;
  pfn: number;
  /** The order (FREE_PAGES) or npages (FREE_CONTIG) the guest passed. */
  size: number;
  /** Stack handle of the offending call. */
  stack: number;
  icount: number;
  /** Row of the latest allocation covering the frame, or -1 when it was never allocated. */
  allocation: number;
}

/** Invalid frees kept in full; later ones are only counted. */
export const DEFAULT_MAX_INVALID_FREES = 1000;
const NONE = -1;

export class PageOwner implements EventSubscriber {
  /** Rows of the allocation table. */
  count = 0;
  pfn = new Int32Array(1024);
  npages = new Int32Array(1024);
  /** Order, or -1 for an ALLOC_CONTIG range. */
  order = new Int32Array(1024);
  gfp = new Int32Array(1024);
  allocStack = new Int32Array(1024);
  allocSeq = new Float64Array(1024);
  allocIcount = new Float64Array(1024);
  /** -1 while live. */
  freeStack = new Int32Array(1024);
  freeSeq = new Float64Array(1024);
  freeIcount = new Float64Array(1024);

  /** Frames in live blocks now, and the largest such count after any call with the call it came at. */
  liveFrames = 0;
  liveBlocks = 0;
  peakFrames = 0;
  peakSeq = -1;
  readonly invalidFrees: InvalidFree[] = [];
  invalidFreeCount = 0;
  /** Frees of blocks allocated before the hub saw the allocator (a restored checkpoint). */
  untrackedFrees = 0;

  /** Per frame (pfn - basePfn): the row of the latest allocation covering it, or -1. */
  private frameRow: Int32Array | null = null;
  private basePfn = 0;
  /** Per frame: the row of the live block whose head it is, or -1 (to close a free in O(1)). */
  private headRow: Int32Array | null = null;

  constructor(
    readonly hub: EventHub,
    private readonly maxInvalidFrees = DEFAULT_MAX_INVALID_FREES,
  ) {}

  onEvent(e: Readonly<AllocatorEvent>): void {
    if (e.kind === "alloc") this.allocated(e);
    else if (e.kind === "free") this.freed(e);
    else if (e.kind === "protocol-error" && isInvalidFreeStatus(e.status) && (e.cmd === Cmd.FREE_PAGES || e.cmd === Cmd.FREE_CONTIG)) this.invalidFree(e);
  }

  onCallEnd(seq: number): void {
    if (this.liveFrames > this.peakFrames) {
      this.peakFrames = this.liveFrames;
      this.peakSeq = seq;
    }
  }

  /** The row of the latest allocation that covered pfn, or -1. */
  rowOfFrame(pfn: number): number {
    const rows = this.frameRow;
    const idx = pfn - this.basePfn;
    return rows === null || idx < 0 || idx >= rows.length ? NONE : rows[idx]!;
  }

  /** True when row was live after call `seq` (allocated at or before it, not freed by then). */
  liveAfter(row: number, seq: number): boolean {
    const freed = this.freeSeq[row]!;
    return this.allocSeq[row]! <= seq && (freed < 0 || freed > seq);
  }

  /** Rows live after call `seq` (Infinity: now), in allocation order. */
  liveAt(seq: number): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.count; r++) if (this.liveAfter(r, seq)) out.push(r);
    return out;
  }

  private ensureFrames(): void {
    if (this.frameRow !== null) return;
    const buddy = this.hub.allocator;
    if (buddy === null) throw new Error("invariant: page owner saw an allocation before MEMMAP built the allocator");
    this.basePfn = buddy.basePfn;
    this.frameRow = new Int32Array(buddy.frameCount).fill(NONE);
    this.headRow = new Int32Array(buddy.frameCount).fill(NONE);
  }

  private allocated(e: Readonly<AllocatorEvent>): void {
    this.ensureFrames();
    const r = this.count;
    if (r === this.pfn.length) this.growTable(r + 1);
    this.count++;
    this.pfn[r] = e.pfn;
    this.npages[r] = e.npages;
    this.order[r] = e.order;
    this.gfp[r] = e.gfp;
    this.allocStack[r] = this.hub.currentStack();
    this.allocSeq[r] = e.seq;
    this.allocIcount[r] = e.icount;
    this.freeStack[r] = NONE;
    this.freeSeq[r] = NONE;
    this.freeIcount[r] = NONE;
    const idx = e.pfn - this.basePfn;
    if (this.headRow![idx] !== NONE) throw new Error(`invariant: page owner: pfn 0x${e.pfn.toString(16)} allocated while already live`);
    this.headRow![idx] = r;
    this.frameRow!.fill(r, idx, idx + e.npages);
    this.liveFrames += e.npages;
    this.liveBlocks++;
  }

  private freed(e: Readonly<AllocatorEvent>): void {
    this.ensureFrames();
    const idx = e.pfn - this.basePfn;
    const r = idx >= 0 && idx < this.headRow!.length ? this.headRow![idx]! : NONE;
    if (r === NONE && !this.hub.allocatorFresh) {
      // A block from before a restored checkpoint: its owner is unknown.
      this.untrackedFrees++;
      return;
    }
    if (r === NONE || this.npages[r] !== e.npages) {
      throw new Error(`invariant: page owner: free of pfn 0x${e.pfn.toString(16)} (${e.npages} frames) matches no live block`);
    }
    this.headRow![idx] = NONE;
    this.freeStack[r] = this.hub.currentStack();
    this.freeSeq[r] = e.seq;
    this.freeIcount[r] = e.icount;
    this.liveFrames -= e.npages;
    this.liveBlocks--;
  }

  private invalidFree(e: Readonly<AllocatorEvent>): void {
    this.invalidFreeCount++;
    if (this.invalidFrees.length >= this.maxInvalidFrees) return;
    this.invalidFrees.push({
      status: e.status,
      cmd: e.cmd,
      seq: e.seq,
      record: e.record,
      pfn: e.pfn,
      size: e.cmd === Cmd.FREE_PAGES ? e.order : e.npages,
      stack: this.hub.currentStack(),
      icount: e.icount,
      allocation: this.rowOfFrame(e.pfn),
    });
  }

  private growTable(need: number): void {
    this.pfn = grow(this.pfn, need);
    this.npages = grow(this.npages, need);
    this.order = grow(this.order, need);
    this.gfp = grow(this.gfp, need);
    this.allocStack = grow(this.allocStack, need);
    this.allocSeq = grow(this.allocSeq, need);
    this.allocIcount = grow(this.allocIcount, need);
    this.freeStack = grow(this.freeStack, need);
    this.freeSeq = grow(this.freeSeq, need);
    this.freeIcount = grow(this.freeIcount, need);
  }
}

/** The statuses of an invalid free: the frame's state contradicts the request. */
export function isInvalidFreeStatus(status: number): boolean {
  return status === Status.EDOUBLEFREE || status === Status.EBADORDER || status === Status.ENOTHEAD;
}
