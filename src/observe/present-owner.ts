// The page owner of a live view (the web page): the same records as PageOwner (page-owner.ts), the
// allocating call's backtrace, call number, icount, order, npages and gfp, and once freed the free's,
// for the present only. Records live per head frame, not per allocation: a block's record stays
// until another allocation takes the same head frame, and each frame names the latest block that
// covered it. Memory is fixed by the RAM's size, whatever the run's length. PageOwner keeps every
// allocation instead, for looking back at any past call (the CLI's --at).
//
// It is not a subscriber of the hub but the index of the run's event ring (event-ring.ts), whose
// entries carry everything a record holds. A record is the numbers of its alloc and free entries in
// the ring: storing an entry costs the owner a few stores, inside the ring's store. Only when the
// ring is about to overwrite an entry that a record still points to are its fields copied out
// (spilled) into the record's own arrays; reading a record reads the ring or the spilled copy.
// Invalid frees are recorded when their protocol error is stored, against the records as they stand.
//
// A row number here is the head frame's index (pfn - basePfn); liveAt(Infinity) lists live blocks in
// frame order, not allocation order.

import { Cmd } from "../protocol/abi.js";
import type { EventHub } from "./event-hub.js";
import { cmdOf, orderOf, statusOf, type EventRing, type RingIndex } from "./event-ring.js";
import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  ENTRY_NONE,
  ENTRY_SPILLED,
  E_GFP,
  E_KIND,
  E_NPAGES,
  E_PFN,
  E_RECORD,
  E_STACK,
  E_STRIDE,
  F_FREE_ICOUNT,
  F_FREE_SEQ,
  F_STRIDE,
  I_ALLOC_STACK,
  I_FREE_STACK,
  I_NPAGES,
  I_STRIDE,
  KIND_ALLOC,
  OWNER_NONE as NONE,
} from "./layout.js";
import { InvalidFrees, isInvalidFree, ownerAllocator, readRow, unmatchedFree, writeAllocation, type InvalidFree, type OwnerIndex, type OwnerRow } from "./page-owner.js";

export class PresentOwner implements OwnerIndex, RingIndex {
  readonly keepsHistory = false;
  private allocations = 0;
  private frames = 0;
  private blocks = 0;
  private untracked = 0;
  /** Per head frame: the ring entry of its record's allocation and of its free (layout.ts ENTRY_*). */
  private allocEntry = new Float64Array(0);
  private freeEntry = new Float64Array(0);
  /**
   * Per head frame: I_STRIDE ints (I_NPAGES, always current: 0 never a head) and F_STRIDE float64
   * fields, the rest of them written only when the record's entries are spilled.
   */
  private ints = new Int32Array(0);
  private nums = new Float64Array(0);
  /** Per frame: the head index of the latest allocation that covered it, or -1. */
  private frameRow = new Int32Array(0);
  private basePfn = 0;
  private frameCount = 0;
  private ready = false;
  /** The invariant an event broke: every later query throws it again, not a misleading other. */
  private broken: Error | null = null;
  private readonly invalid: InvalidFrees;

  /** Indexes `ring` (which the hub must feed, the hub's subscriber) from its current total on. */
  constructor(
    readonly hub: EventHub,
    private readonly ring: EventRing,
    maxInvalidFrees?: number,
  ) {
    this.invalid = new InvalidFrees(this, maxInvalidFrees);
    ring.setIndex(this);
  }

  /** Allocations recorded so far. */
  get count(): number {
    this.check();
    return this.allocations;
  }

  /** Frames and blocks live now. */
  get liveFrames(): number {
    this.check();
    return this.frames;
  }

  get liveBlocks(): number {
    this.check();
    return this.blocks;
  }

  /** Frees of blocks allocated before the hub saw the allocator (a restored checkpoint). */
  get untrackedFrees(): number {
    this.check();
    return this.untracked;
  }

  get invalidFrees(): readonly InvalidFree[] {
    this.check();
    return this.invalid.kept;
  }

  get invalidFreeCount(): number {
    this.check();
    return this.invalid.count;
  }

  /** The head index of the latest allocation that covered pfn, or -1 (never allocated, or the record was replaced). */
  rowOfFrame(pfn: number): number {
    this.check();
    const idx = pfn - this.basePfn;
    const rows = this.frameRow;
    if (idx < 0 || idx >= rows.length) return NONE;
    const r = rows[idx]!;
    // A later block at the same head replaced the record: it may no longer cover this frame.
    return r !== NONE && idx < r + this.ints[r * I_STRIDE + I_NPAGES]! ? r : NONE;
  }

  row(r: number): OwnerRow {
    this.checkRow(r);
    const row = this.allocEntry[r]! === ENTRY_SPILLED ? readRow(this.ints, r * I_STRIDE, this.nums, r * F_STRIDE) : this.entryRow(this.allocEntry[r]!);
    const free = this.freeEntry[r]!;
    if (free === ENTRY_SPILLED) {
      row.freeStack = this.ints[r * I_STRIDE + I_FREE_STACK]!;
      row.freeSeq = this.nums[r * F_STRIDE + F_FREE_SEQ]!;
      row.freeIcount = this.nums[r * F_STRIDE + F_FREE_ICOUNT]!;
    } else if (free !== ENTRY_NONE) {
      const slot = this.ring.slotOf(free);
      row.freeStack = this.ring.ints[slot * E_STRIDE + E_STACK]!;
      row.freeSeq = this.ring.floats[slot * EF_STRIDE + EF_SEQ]!;
      row.freeIcount = this.ring.floats[slot * EF_STRIDE + EF_ICOUNT]!;
    }
    return row;
  }

  isLive(r: number): boolean {
    this.checkRow(r);
    return this.freeEntry[r] === ENTRY_NONE;
  }

  allocStackOf(r: number): number {
    this.checkRow(r);
    const n = this.allocEntry[r]!;
    return n === ENTRY_SPILLED ? this.ints[r * I_STRIDE + I_ALLOC_STACK]! : this.ring.ints[this.ring.slotOf(n) * E_STRIDE + E_STACK]!;
  }

  npagesOf(r: number): number {
    this.checkRow(r);
    return this.ints[r * I_STRIDE + I_NPAGES]!;
  }

  /** Live blocks now, in frame order; only the present (Infinity) is known. */
  liveAt(seq: number): number[] {
    if (seq !== Infinity) throw new Error("invariant: liveAt(seq) of a present-only page owner: only the present is kept");
    this.check();
    const out: number[] = [];
    for (let r = 0; r < this.frameRow.length; r++) if (this.liveHead(r)) out.push(r);
    return out;
  }

  // ---- RingIndex: called from inside the ring's store ----

  /**
   * An alloc or free entry: the record of its head frame points to it. An allocation over a live
   * block, or a free that matches no live block of the hub's allocator, is a bug of ours.
   */
  stored(kind: number, n: number, pfn: number, npages: number): void {
    if (!this.ready) this.ensureFrames();
    const h = pfn - this.basePfn;
    const i = h * I_STRIDE;
    const ints = this.ints;
    const inRange = h >= 0 && h < this.frameCount;
    const live = inRange && ints[i + I_NPAGES]! > 0 && this.freeEntry[h] === ENTRY_NONE;
    if (kind === KIND_ALLOC) {
      if (live || !inRange) this.fail(`invariant: page owner: pfn 0x${pfn.toString(16)} allocated ${live ? "while already live" : "outside the allocator's frames"}`);
      this.allocEntry[h] = n;
      this.freeEntry[h] = ENTRY_NONE;
      ints[i + I_NPAGES] = npages;
      const frameRow = this.frameRow;
      for (let q = h, stop = h + npages; q < stop; q++) frameRow[q] = h;
      this.allocations++;
      this.frames += npages;
      this.blocks++;
    } else if (!live || ints[i + I_NPAGES] !== npages) this.untrackedFree(pfn, npages, live);
    else {
      this.freeEntry[h] = n;
      this.frames -= npages;
      this.blocks--;
    }
  }

  /** Entry n (an alloc or free with head pfn) is about to be overwritten: a record pointing to it keeps a copy. */
  evicting(n: number, pfn: number): void {
    const h = pfn - this.basePfn;
    if (h < 0 || h >= this.frameCount) return;
    if (this.allocEntry[h] === n) this.spillAlloc(h, n);
    else if (this.freeEntry[h] === n) this.spillFree(h, n);
  }

  /** A protocol error: an invalid free is kept with the records as they stand at its call. */
  storedError(n: number): void {
    const ring = this.ring;
    const slot = ring.slotOf(n);
    const p = slot * E_STRIDE;
    const r = ring.ints;
    const packed = r[p + E_KIND]!;
    const status = statusOf(packed);
    const cmd = cmdOf(packed);
    if (!isInvalidFree(status, cmd)) return;
    const size = cmd === Cmd.FREE_PAGES ? orderOf(packed) : r[p + E_NPAGES]! >>> 0;
    const f = slot * EF_STRIDE;
    this.invalid.add(status, cmd, ring.floats[f + EF_SEQ]!, r[p + E_RECORD]!, r[p + E_PFN]!, size, r[p + E_STACK]!, ring.floats[f + EF_ICOUNT]!);
  }

  // ---- internals ----

  /** The record of an allocation still in the ring, its free fields those of a live block. */
  private entryRow(n: number): OwnerRow {
    const slot = this.ring.slotOf(n);
    const p = slot * E_STRIDE;
    const r = this.ring.ints;
    const f = slot * EF_STRIDE;
    return {
      pfn: r[p + E_PFN]!,
      npages: r[p + E_NPAGES]!,
      order: orderOf(r[p + E_KIND]!),
      gfp: r[p + E_GFP]!,
      allocStack: r[p + E_STACK]!,
      allocSeq: this.ring.floats[f + EF_SEQ]!,
      allocIcount: this.ring.floats[f + EF_ICOUNT]!,
      freeStack: NONE,
      freeSeq: NONE,
      freeIcount: NONE,
    };
  }

  private spillAlloc(h: number, n: number): void {
    const row = this.entryRow(n);
    writeAllocation(this.ints, h * I_STRIDE, this.nums, h * F_STRIDE, row.pfn, row.npages, row.order, row.gfp, row.allocStack, row.allocSeq, row.allocIcount);
    this.allocEntry[h] = ENTRY_SPILLED;
  }

  private spillFree(h: number, n: number): void {
    const slot = this.ring.slotOf(n);
    this.ints[h * I_STRIDE + I_FREE_STACK] = this.ring.ints[slot * E_STRIDE + E_STACK]!;
    this.nums[h * F_STRIDE + F_FREE_SEQ] = this.ring.floats[slot * EF_STRIDE + EF_SEQ]!;
    this.nums[h * F_STRIDE + F_FREE_ICOUNT] = this.ring.floats[slot * EF_STRIDE + EF_ICOUNT]!;
    this.freeEntry[h] = ENTRY_SPILLED;
  }

  /** A free of no live block: counted when from before a checkpoint, else a bug (unmatchedFree throws). */
  private untrackedFree(pfn: number, npages: number, live: boolean): void {
    try {
      unmatchedFree(this.hub, pfn, npages, live);
    } catch (error) {
      this.broken ??= error as Error;
      throw error;
    }
    this.untracked++;
  }

  /** Throws an invariant's error; the first one broken stays the owner's answer to every query. */
  private fail(message: string): never {
    const error = new Error(message);
    this.broken ??= error;
    throw error;
  }

  /** Every query first: an event that broke an invariant keeps failing the owner. */
  private check(): void {
    if (this.broken !== null) throw this.broken;
  }

  private checkRow(r: number): void {
    this.check();
    if (!(r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0)) throw new Error(`invariant: present-only page owner has no record at head index ${r}`);
  }

  /** True when head index r holds the record of a live block. */
  private liveHead(r: number): boolean {
    return r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0 && this.freeEntry[r] === ENTRY_NONE;
  }

  private ensureFrames(): void {
    let buddy;
    try {
      buddy = ownerAllocator(this.hub);
    } catch (error) {
      this.broken ??= error as Error;
      throw error;
    }
    const frames = buddy.frameCount;
    this.basePfn = buddy.basePfn;
    this.frameCount = frames;
    this.allocEntry = new Float64Array(frames).fill(ENTRY_NONE);
    this.freeEntry = new Float64Array(frames).fill(ENTRY_NONE);
    this.ints = new Int32Array(frames * I_STRIDE);
    this.nums = new Float64Array(frames * F_STRIDE);
    this.frameRow = new Int32Array(frames).fill(NONE);
    this.ready = true;
  }
}
