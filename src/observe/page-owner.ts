// Page owner, kept outside the guest (Linux mm/page_owner.c): for every block the guest was given,
// the backtrace of the call (from the guest's frame-pointer chain, interned in the hub's stack depot),
// the hypercall number, the instruction counter, order, npages and gfp; once freed, the free's site
// too. Allocations are rows of an append-only table of typed arrays, so "what was live after call N"
// is a scan of the table and the peak, a MARK or any call can be looked at after the run. Each frame
// also remembers the latest allocation that covered it, so an invalid free (double free, wrong order,
// interior frame) is reported with the offending call, the allocation and, for a double free, the
// first free. Rows live in fixed chunks (CHUNK_ROWS rows each; integers and float64 fields
// interleaved per row), so recording one costs a few stores into one or two cache lines and the
// table never copies itself as it grows: this runs inside every hypercall the CLI's --owners watches.
// A live view that needs only the present (the web page) uses PresentOwner (present-owner.ts), which
// keeps its records per head frame and reads alike through OwnerIndex.

import { Cmd, Status } from "../protocol/abi.js";
import type { AllocatorEvent, EventSubscriber } from "./events.js";
import type { EventHub } from "./event-hub.js";
import type { BuddyAllocator } from "../mem/index.js";
import {
  F_ALLOC_ICOUNT,
  F_ALLOC_SEQ,
  F_FREE_ICOUNT,
  F_FREE_SEQ,
  F_STRIDE,
  I_ALLOC_STACK,
  I_FREE_STACK,
  I_GFP,
  I_NPAGES,
  I_ORDER,
  I_PFN,
  I_STRIDE,
  KIND_ALLOC,
  KIND_FREE,
  OWNER_NONE as NONE,
  ROW_CHUNK_MASK as CHUNK_MASK,
  ROW_CHUNK_ROWS as CHUNK_ROWS,
  ROW_CHUNK_SHIFT as CHUNK_SHIFT,
} from "./layout.js";

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
  /** The latest allocation covering the frame as it stood then, or null when there was none. */
  allocation: OwnerRow | null;
}

export interface PageOwnerOptions {
  /** Invalid frees kept in full (default DEFAULT_MAX_INVALID_FREES); later ones are only counted. */
  maxInvalidFrees?: number;
}

/** Invalid frees kept in full; later ones are only counted. */
export const DEFAULT_MAX_INVALID_FREES = 1000;

/** One allocation as the page owner recorded it (a copy: for reports and the page's inspector). */
export interface OwnerRow {
  pfn: number;
  npages: number;
  /** Order, or -1 for an ALLOC_CONTIG range. */
  order: number;
  gfp: number;
  allocStack: number;
  allocSeq: number;
  allocIcount: number;
  /** -1 while live. */
  freeStack: number;
  freeSeq: number;
  freeIcount: number;
}

/** Rows of allocations by number: the live PageOwner, or rows read back from a trace. */
export interface OwnerTable {
  row(r: number): OwnerRow;
}

/**
 * What reports, poison's site names and the web page read of a live page owner: PageOwner, which
 * keeps every allocation, or PresentOwner (present-owner.ts), which keeps the present for a live view.
 */
export interface OwnerIndex extends OwnerTable {
  readonly hub: EventHub;
  /** Allocations recorded. */
  readonly count: number;
  /** True when every allocation is kept, so liveAt() can look at any past call. */
  readonly keepsHistory: boolean;
  readonly invalidFrees: readonly InvalidFree[];
  readonly invalidFreeCount: number;
  /** The row of the latest allocation that covered pfn, or -1 (never allocated, or its record is gone). */
  rowOfFrame(pfn: number): number;
  isLive(r: number): boolean;
  allocStackOf(r: number): number;
  npagesOf(r: number): number;
  /** Rows live after call `seq` (Infinity: now). */
  liveAt(seq: number): number[];
}

/** The invalid frees a page owner saw: the first `max` kept in full, all counted. */
export class InvalidFrees {
  count = 0;
  readonly kept: InvalidFree[] = [];

  constructor(
    private readonly owner: Pick<OwnerIndex, "rowOfFrame" | "row">,
    private readonly max = DEFAULT_MAX_INVALID_FREES,
  ) {}

  /** Records a protocol error from the hub when it is an invalid free; the hub walks its stack. */
  take(e: Readonly<AllocatorEvent>, hub: EventHub): void {
    if (!isInvalidFree(e.status, e.cmd)) return;
    this.add(e.status, e.cmd, e.seq, e.record, e.pfn, e.cmd === Cmd.FREE_PAGES ? e.order : e.npages, this.kept.length < this.max ? hub.currentStack() : -1, e.icount);
  }

  /**
   * Records an invalid free (isInvalidFree) with what the owner knows of its frame now: `size` is
   * the order (FREE_PAGES) or npages (FREE_CONTIG) the guest passed, `stack` the call's backtrace.
   */
  add(status: number, cmd: number, seq: number, record: number, pfn: number, size: number, stack: number, icount: number): void {
    this.count++;
    if (this.kept.length >= this.max) return;
    const row = this.owner.rowOfFrame(pfn);
    this.kept.push({ status, cmd, seq, record, pfn, size, stack, icount, allocation: row < 0 ? null : this.owner.row(row) });
  }
}

/** The allocator whose frames an owner's records cover; an allocation before MEMMAP is a bug of ours. */
export function ownerAllocator(hub: EventHub): BuddyAllocator {
  const buddy = hub.allocator;
  if (buddy === null) throw new Error("invariant: page owner saw an allocation before MEMMAP built the allocator");
  return buddy;
}

/**
 * A free that matches no live record (`known`: a live block at pfn, of another size). A block from
 * before a restored checkpoint is one whose owner is unknown (returns: the caller counts it);
 * anything else is a bug of ours (throws).
 */
export function unmatchedFree(hub: EventHub, pfn: number, npages: number, known: boolean): void {
  if (known || hub.allocatorFresh) throw new Error(`invariant: page owner: free of pfn 0x${pfn.toString(16)} (${npages} frames) matches no live block`);
}

/** Everything a PageOwner knows, for snapshots (PageOwner.getState); stack handles are its hub's depot's. */
export interface PageOwnerState {
  /** Rows recorded, and their fields (layout.ts I_* and F_*), row after row. */
  count: number;
  ints: Int32Array;
  nums: Float64Array;
  basePfn: number;
  /** Per frame: the latest row covering it, and the live row it heads (-1: none); empty before the first allocation. */
  frameRow: Int32Array;
  headRow: Int32Array;
  liveFrames: number;
  liveBlocks: number;
  untrackedFrees: number;
  peakFrames: number;
  peakSeq: number;
  peakIcount: number;
  invalidFreeCount: number;
  invalidFrees: InvalidFree[];
}

export class PageOwner implements EventSubscriber, OwnerIndex {
  /** Rows of the allocation table. */
  count = 0;
  /** Frames and blocks live now. */
  liveFrames = 0;
  liveBlocks = 0;
  /** Frees of blocks allocated before the hub saw the allocator (a restored checkpoint). */
  untrackedFrees = 0;
  /** The largest count of live frames after any call, and the call it came at. */
  peakFrames = 0;
  peakSeq = -1;
  /** The instruction counter at the peak's call. */
  peakIcount = 0;
  readonly keepsHistory = true;
  /** Page owners record the backtrace of every allocation and free (EventSubscriber.blockStacks). */
  readonly blockStacks = true;

  private readonly ints: Int32Array[] = [];
  private readonly nums: Float64Array[] = [];
  /** Per frame (pfn - basePfn): the row of the latest allocation covering it, or -1. */
  private frameRow: Int32Array | null = null;
  private basePfn = 0;
  /** Per frame: the row of the live block whose head it is, or -1 (to close a free in O(1)). */
  private headRow: Int32Array | null = null;
  private readonly invalid: InvalidFrees;

  constructor(
    readonly hub: EventHub,
    options: PageOwnerOptions = {},
  ) {
    this.invalid = new InvalidFrees(this, options.maxInvalidFrees);
  }

  get invalidFrees(): readonly InvalidFree[] {
    return this.invalid.kept;
  }

  get invalidFreeCount(): number {
    return this.invalid.count;
  }

  onEvent(e: Readonly<AllocatorEvent>): void {
    if (e.kind === "alloc") this.allocated(e.pfn, e.npages, e.order, e.gfp, e.seq, e.icount, this.hub.currentStack());
    else if (e.kind === "free") this.freed(e.pfn, e.npages, e.seq, e.icount, this.hub.currentStack());
    else if (e.kind === "protocol-error") this.invalid.take(e, this.hub);
  }

  /** The hub's alloc and free as numbers (EventSubscriber.onBlock); splits and merges change no owner. */
  onBlock(code: number, seq: number, _record: number, pfn: number, order: number, npages: number, _zone: number, gfp: number, stack: number): void {
    if (code === KIND_ALLOC) this.allocated(pfn, npages, order, gfp, seq, this.hub.callIcount, stack);
    else if (code === KIND_FREE) this.freed(pfn, npages, seq, this.hub.callIcount, stack);
  }

  /** The peak (the CLI's `--at peak`) is looked at after every call. */
  onCallEnd(seq: number): void {
    if (this.liveFrames > this.peakFrames) {
      this.peakFrames = this.liveFrames;
      this.peakSeq = seq;
      // A new peak follows an allocation, so the hub has sampled this call.
      this.peakIcount = this.hub.callIcount;
    }
  }

  /** A copy of row r (allocates: not for per-call use). */
  row(r: number): OwnerRow {
    this.checkRow(r);
    return readRow(this.ints[r >>> CHUNK_SHIFT]!, (r & CHUNK_MASK) * I_STRIDE, this.nums[r >>> CHUNK_SHIFT]!, (r & CHUNK_MASK) * F_STRIDE);
  }

  /** The allocation stack of row r (for scans over many rows, without a copy). */
  allocStackOf(r: number): number {
    this.checkRow(r);
    return this.ints[r >>> CHUNK_SHIFT]![(r & CHUNK_MASK) * I_STRIDE + I_ALLOC_STACK]!;
  }

  /** The frames of row r's block. */
  npagesOf(r: number): number {
    this.checkRow(r);
    return this.ints[r >>> CHUNK_SHIFT]![(r & CHUNK_MASK) * I_STRIDE + I_NPAGES]!;
  }

  /** True while row r's block is allocated. */
  isLive(r: number): boolean {
    this.checkRow(r);
    return this.nums[r >>> CHUNK_SHIFT]![(r & CHUNK_MASK) * F_STRIDE + F_FREE_SEQ]! < 0;
  }

  /** The row of the latest allocation that covered pfn, or -1 (never allocated). */
  rowOfFrame(pfn: number): number {
    const rows = this.frameRow;
    const idx = pfn - this.basePfn;
    return rows === null || idx < 0 || idx >= rows.length ? NONE : rows[idx]!;
  }

  /** True when row was live after call `seq` (allocated at or before it, not freed by then). */
  liveAfter(row: number, seq: number): boolean {
    this.checkRow(row);
    const nums = this.nums[row >>> CHUNK_SHIFT]!;
    const f = (row & CHUNK_MASK) * F_STRIDE;
    const freed = nums[f + F_FREE_SEQ]!;
    return nums[f + F_ALLOC_SEQ]! <= seq && (freed < 0 || freed > seq);
  }

  /** Rows live after call `seq` (Infinity: now), in allocation order. */
  liveAt(seq: number): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.count; r++) if (this.liveAfter(r, seq)) out.push(r);
    return out;
  }

  /** A copy of every record and counter (for a snapshot taken between two calls). */
  getState(): PageOwnerState {
    const ints = new Int32Array(this.count * I_STRIDE);
    const nums = new Float64Array(this.count * F_STRIDE);
    for (let c = 0; c < this.ints.length; c++) {
      const rows = Math.min(CHUNK_ROWS, this.count - c * CHUNK_ROWS);
      ints.set(this.ints[c]!.subarray(0, rows * I_STRIDE), c * CHUNK_ROWS * I_STRIDE);
      nums.set(this.nums[c]!.subarray(0, rows * F_STRIDE), c * CHUNK_ROWS * F_STRIDE);
    }
    return {
      count: this.count,
      ints,
      nums,
      basePfn: this.basePfn,
      frameRow: this.frameRow?.slice() ?? new Int32Array(0),
      headRow: this.headRow?.slice() ?? new Int32Array(0),
      liveFrames: this.liveFrames,
      liveBlocks: this.liveBlocks,
      untrackedFrees: this.untrackedFrees,
      peakFrames: this.peakFrames,
      peakSeq: this.peakSeq,
      peakIcount: this.peakIcount,
      invalidFreeCount: this.invalid.count,
      invalidFrees: this.invalid.kept.map((f) => ({ ...f, allocation: f.allocation === null ? null : { ...f.allocation } })),
    };
  }

  /**
   * Puts a getState() into a page owner that has recorded nothing, before its run goes on (a
   * restored checkpoint: its stacks must already be in the hub's depot, and the caller checks that
   * the records cover the restored allocator's frames). Throws on a malformed state.
   */
  setState(s: PageOwnerState): void {
    if (this.count !== 0 || this.frameRow !== null) throw new Error("PageOwner.setState: the owner has already recorded allocations");
    if (s.ints.length !== s.count * I_STRIDE || s.nums.length !== s.count * F_STRIDE || s.frameRow.length !== s.headRow.length || (s.count > 0 && s.frameRow.length === 0))
      throw new Error("PageOwner.setState: the state's arrays do not match its row count");
    const stacks = this.hub.depot.size;
    for (let r = 0; r < s.count; r++) {
      const alloc = s.ints[r * I_STRIDE + I_ALLOC_STACK]!;
      const free = s.ints[r * I_STRIDE + I_FREE_STACK]!;
      if (alloc >= stacks || free >= stacks) throw new Error(`PageOwner.setState: row ${r} names a stack the depot does not hold (restore the depot first)`);
    }
    for (let r = 0; r < s.count; r++) {
      this.appendRow();
      const c = r >>> CHUNK_SHIFT;
      this.ints[c]!.set(s.ints.subarray(r * I_STRIDE, (r + 1) * I_STRIDE), (r & CHUNK_MASK) * I_STRIDE);
      this.nums[c]!.set(s.nums.subarray(r * F_STRIDE, (r + 1) * F_STRIDE), (r & CHUNK_MASK) * F_STRIDE);
    }
    if (s.frameRow.length > 0) {
      this.basePfn = s.basePfn;
      this.frameRow = s.frameRow.slice();
      this.headRow = s.headRow.slice();
    }
    this.liveFrames = s.liveFrames;
    this.liveBlocks = s.liveBlocks;
    this.untrackedFrees = s.untrackedFrees;
    this.peakFrames = s.peakFrames;
    this.peakSeq = s.peakSeq;
    this.peakIcount = s.peakIcount;
    this.invalid.count = s.invalidFreeCount;
    this.invalid.kept.push(...s.invalidFrees);
  }

  private checkRow(r: number): void {
    if (!(r >= 0 && r < this.count)) throw new Error(`invariant: page owner has no row ${r} (${this.count} rows)`);
  }

  /** A free of no live block: counted when from before a checkpoint, else a bug (unmatchedFree throws). */
  private untrackedFree(pfn: number, npages: number): void {
    unmatchedFree(this.hub, pfn, npages, false);
    this.untrackedFrees++;
  }

  private ensureFrames(): void {
    if (this.frameRow !== null) return;
    const buddy = ownerAllocator(this.hub);
    this.basePfn = buddy.basePfn;
    this.frameRow = new Int32Array(buddy.frameCount).fill(NONE);
    this.headRow = new Int32Array(buddy.frameCount).fill(NONE);
  }

  private allocated(pfn: number, npages: number, order: number, gfp: number, seq: number, icount: number, stack: number): void {
    this.ensureFrames();
    const idx = pfn - this.basePfn;
    const headRow = this.headRow!;
    if (headRow[idx] !== NONE) throw new Error(`invariant: page owner: pfn 0x${pfn.toString(16)} allocated while already live`);
    const r = this.appendRow();
    const c = r >>> CHUNK_SHIFT;
    const ints = this.ints[c]!;
    const nums = this.nums[c]!;
    const i = (r & CHUNK_MASK) * I_STRIDE;
    const f = (r & CHUNK_MASK) * F_STRIDE;
    writeAllocation(ints, i, nums, f, pfn, npages, order, gfp, stack, seq, icount);
    headRow[idx] = r;
    const frameRow = this.frameRow!;
    for (let p = idx, end = idx + npages; p < end; p++) frameRow[p] = r;
    this.liveFrames += npages;
    this.liveBlocks++;
  }

  private freed(pfn: number, npages: number, seq: number, icount: number, stack: number): void {
    this.ensureFrames();
    const idx = pfn - this.basePfn;
    const headRow = this.headRow!;
    const r = idx >= 0 && idx < headRow.length ? headRow[idx]! : NONE;
    if (r === NONE) return this.untrackedFree(pfn, npages);
    const ints = this.ints[r >>> CHUNK_SHIFT]!;
    const i = (r & CHUNK_MASK) * I_STRIDE;
    if (ints[i + I_NPAGES] !== npages) return unmatchedFree(this.hub, pfn, npages, true);
    headRow[idx] = NONE;
    const nums = this.nums[r >>> CHUNK_SHIFT]!;
    const f = (r & CHUNK_MASK) * F_STRIDE;
    ints[i + I_FREE_STACK] = stack;
    nums[f + F_FREE_SEQ] = seq;
    nums[f + F_FREE_ICOUNT] = icount;
    this.liveFrames -= npages;
    this.liveBlocks--;
  }

  private appendRow(): number {
    const r = this.count;
    if (r >>> CHUNK_SHIFT === this.ints.length) {
      this.ints.push(new Int32Array(CHUNK_ROWS * I_STRIDE));
      this.nums.push(new Float64Array(CHUNK_ROWS * F_STRIDE));
    }
    this.count = r + 1;
    return r;
  }
}

/** The record whose int fields start at ints[i] and float64 fields at nums[f] (layout.ts I_*, F_*), as a copy. */
export function readRow(ints: Int32Array, i: number, nums: Float64Array, f: number): OwnerRow {
  return {
    pfn: ints[i + I_PFN]!,
    npages: ints[i + I_NPAGES]!,
    order: ints[i + I_ORDER]!,
    gfp: ints[i + I_GFP]!,
    allocStack: ints[i + I_ALLOC_STACK]!,
    allocSeq: nums[f + F_ALLOC_SEQ]!,
    allocIcount: nums[f + F_ALLOC_ICOUNT]!,
    freeStack: ints[i + I_FREE_STACK]!,
    freeSeq: nums[f + F_FREE_SEQ]!,
    freeIcount: nums[f + F_FREE_ICOUNT]!,
  };
}

/** Writes a new allocation's record at ints[i] and nums[f] (layout.ts I_*, F_*): live, no free yet. */
export function writeAllocation(ints: Int32Array, i: number, nums: Float64Array, f: number, pfn: number, npages: number, order: number, gfp: number, stack: number, seq: number, icount: number): void {
  ints[i + I_PFN] = pfn;
  ints[i + I_NPAGES] = npages;
  ints[i + I_ORDER] = order;
  ints[i + I_GFP] = gfp;
  ints[i + I_ALLOC_STACK] = stack;
  ints[i + I_FREE_STACK] = NONE;
  nums[f + F_ALLOC_SEQ] = seq;
  nums[f + F_ALLOC_ICOUNT] = icount;
  nums[f + F_FREE_SEQ] = NONE;
  nums[f + F_FREE_ICOUNT] = NONE;
}

/** The statuses of an invalid free: the frame's state contradicts the request. */
export function isInvalidFreeStatus(status: number): boolean {
  return status === Status.EDOUBLEFREE || status === Status.EBADORDER || status === Status.ENOTHEAD;
}

/** A protocol error that is an invalid free: such a status from FREE_PAGES or FREE_CONTIG. */
export function isInvalidFree(status: number, cmd: number): boolean {
  return isInvalidFreeStatus(status) && (cmd === Cmd.FREE_PAGES || cmd === Cmd.FREE_CONTIG);
}
