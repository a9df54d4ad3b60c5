// The page owner of a live view (the web page): the same records as PageOwner (page-owner.ts), the
// allocating call's backtrace, call number, icount, order, npages and gfp, and once freed the free's,
// for the present only. Records live per head frame, not per allocation: a block's record stays
// until another allocation takes the same head frame, and each frame names the latest block that
// covered it. Memory is fixed by the RAM's size, whatever the run's length, and an allocation is a
// few stores at its head and one per frame of the block. PageOwner keeps every allocation instead,
// for looking back at any past call (the CLI's --at).
//
// A row number here is the head frame's index (pfn - basePfn); liveAt(Infinity) lists live blocks in
// frame order, not allocation order.

import { F_FREE_ICOUNT, F_FREE_SEQ, F_STRIDE, I_FREE_STACK, I_NPAGES, I_STRIDE, I_ALLOC_STACK, OWNER_NONE as NONE } from "./layout.js";
import { OwnerRecorder, readRow, writeAllocation, type OwnerIndex, type OwnerRow } from "./page-owner.js";

export class PresentOwner extends OwnerRecorder implements OwnerIndex {
  /** Allocations recorded so far. */
  count = 0;
  readonly keepsHistory = false;
  /** Per head frame: I_STRIDE ints (I_NPAGES 0: never a head) and F_STRIDE float64 fields. */
  private ints = new Int32Array(0);
  private nums = new Float64Array(0);
  /** Per frame: the head index of the latest allocation that covered it, or -1. */
  private frameRow = new Int32Array(0);
  private basePfn = 0;
  private ready = false;

  /** The head index of the latest allocation that covered pfn, or -1 (never allocated, or the record was replaced). */
  rowOfFrame(pfn: number): number {
    const idx = pfn - this.basePfn;
    const rows = this.frameRow;
    if (idx < 0 || idx >= rows.length) return NONE;
    const r = rows[idx]!;
    // A later block at the same head replaced the record: it may no longer cover this frame.
    return r !== NONE && idx < r + this.ints[r * I_STRIDE + I_NPAGES]! ? r : NONE;
  }

  row(r: number): OwnerRow {
    this.checkRow(r);
    return readRow(this.ints, r * I_STRIDE, this.nums, r * F_STRIDE);
  }

  isLive(r: number): boolean {
    this.checkRow(r);
    return this.nums[r * F_STRIDE + F_FREE_SEQ]! < 0;
  }

  allocStackOf(r: number): number {
    this.checkRow(r);
    return this.ints[r * I_STRIDE + I_ALLOC_STACK]!;
  }

  npagesOf(r: number): number {
    this.checkRow(r);
    return this.ints[r * I_STRIDE + I_NPAGES]!;
  }

  /** Live blocks now, in frame order; only the present (Infinity) is known. */
  liveAt(seq: number): number[] {
    if (seq !== Infinity) throw new Error("invariant: liveAt(seq) of a present-only page owner: only the present is kept");
    const out: number[] = [];
    for (let r = 0; r < this.frameRow.length; r++) if (this.liveHead(r)) out.push(r);
    return out;
  }

  private checkRow(r: number): void {
    if (!(r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0)) throw new Error(`invariant: present-only page owner has no record at head index ${r}`);
  }

  /**
   * True when head index r holds the record of a live block. allocated and freed write this test out:
   * the hub's dispatch inlines them, and V8 would then leave a call to it out of line on every call.
   */
  private liveHead(r: number): boolean {
    return r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0 && this.nums[r * F_STRIDE + F_FREE_SEQ]! < 0;
  }

  private ensureFrames(): void {
    if (this.ready) return;
    const buddy = this.allocator();
    this.basePfn = buddy.basePfn;
    this.ints = new Int32Array(buddy.frameCount * I_STRIDE);
    this.nums = new Float64Array(buddy.frameCount * F_STRIDE);
    this.frameRow = new Int32Array(buddy.frameCount).fill(NONE);
    this.ready = true;
  }

  protected allocated(pfn: number, npages: number, order: number, gfp: number, seq: number, icount: number, stack: number): void {
    this.ensureFrames();
    const r = pfn - this.basePfn;
    const i = r * I_STRIDE;
    const f = r * F_STRIDE;
    const ints = this.ints;
    const nums = this.nums;
    if (ints[i + I_NPAGES]! > 0 && nums[f + F_FREE_SEQ]! < 0) throw new Error(`invariant: page owner: pfn 0x${pfn.toString(16)} allocated while already live`);
    writeAllocation(ints, i, nums, f, pfn, npages, order, gfp, stack, seq, icount);
    const frameRow = this.frameRow;
    for (let p = r, end = r + npages; p < end; p++) frameRow[p] = r;
    this.count++;
    this.liveFrames += npages;
    this.liveBlocks++;
  }

  protected freed(pfn: number, npages: number, seq: number, icount: number, stack: number): void {
    this.ensureFrames();
    const r = pfn - this.basePfn;
    const i = r * I_STRIDE;
    const f = r * F_STRIDE;
    const ints = this.ints;
    const nums = this.nums;
    if (!(r >= 0 && r < this.frameRow.length && ints[i + I_NPAGES]! > 0 && nums[f + F_FREE_SEQ]! < 0)) return this.unmatchedFree(pfn, npages, false);
    if (ints[i + I_NPAGES] !== npages) return this.unmatchedFree(pfn, npages, true);
    ints[i + I_FREE_STACK] = stack;
    nums[f + F_FREE_SEQ] = seq;
    nums[f + F_FREE_ICOUNT] = icount;
    this.liveFrames -= npages;
    this.liveBlocks--;
  }
}
