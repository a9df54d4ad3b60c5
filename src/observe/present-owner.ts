// The page owner of a live view (the web page): the same records as PageOwner (page-owner.ts), the
// allocating call's backtrace, call number, icount, order, npages and gfp, and once freed the free's,
// for the present only. Records live per head frame, not per allocation: a block's record stays
// until another allocation takes the same head frame, and each frame names the latest block that
// covered it. Memory is fixed by the RAM's size, whatever the run's length. PageOwner keeps every
// allocation instead, for looking back at any past call (the CLI's --at).
//
// It is not a subscriber of the hub: it reads the run's event ring (event-ring.ts), whose entries
// carry everything a record holds, and applies them in bulk: before it answers anything (a query
// from inside a call, such as poison's, sees every event up to that call's own) and whenever the
// ring has taken EVENT_RING_HALF more events (inside the call that stored the last of them).
//
// A row number here is the head frame's index (pfn - basePfn); liveAt(Infinity) lists live blocks in
// frame order, not allocation order.

import { Cmd } from "../protocol/abi.js";
import type { EventHub } from "./event-hub.js";
import { cmdOf, orderOf, statusOf, type EventRing, type RingReader } from "./event-ring.js";
import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EK_KIND_MASK,
  EVENT_RING_SIZE,
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
  KIND_FREE,
  KIND_PROTOCOL_ERROR,
  OWNER_NONE as NONE,
} from "./layout.js";
import type { OwnerArena } from "./owner-wasm.js";
import { InvalidFrees, isInvalidFree, ownerAllocator, readRow, unmatchedFree, writeAllocation, type InvalidFree, type OwnerIndex, type OwnerRow } from "./page-owner.js";

export class PresentOwner implements OwnerIndex, RingReader {
  readonly keepsHistory = false;
  /** Ring events applied so far. */
  private applied = 0;
  private allocations = 0;
  private frames = 0;
  private blocks = 0;
  private untracked = 0;
  /** Per head frame: I_STRIDE ints (I_NPAGES 0: never a head) and F_STRIDE float64 fields. */
  private ints = new Int32Array(0);
  private nums = new Float64Array(0);
  /** Per frame: the head index of the latest allocation that covered it, or -1. */
  private frameRow = new Int32Array(0);
  private basePfn = 0;
  private ready = false;
  /** The catch-up runs in the arena: its tables hold this owner's. */
  private wasm = false;
  /** Inside catchUp: what an invalid free looks up is the records as they stand at its event. */
  private applying = false;
  /** The invariant a catch-up broke: every later query throws it again, not a misleading other. */
  private broken: Error | null = null;
  private readonly invalid: InvalidFrees;

  /**
   * Reads `ring` (which the hub must feed, the hub's subscriber) from its current total on. With an
   * `arena` (owner-wasm.ts) holding that ring, the tables go into it and the catch-up runs there.
   */
  constructor(
    readonly hub: EventHub,
    private readonly ring: EventRing,
    maxInvalidFrees?: number,
    private readonly arena: OwnerArena | null = null,
  ) {
    if (arena !== null && (ring.ints !== arena.ringInts || ring.floats !== arena.ringFloats)) throw new Error("invariant: a present owner's arena does not hold its ring");
    this.invalid = new InvalidFrees(this, maxInvalidFrees);
    this.applied = ring.total;
    ring.addReader(this);
  }

  /** True once the tables are in the arena, where the catch-up runs (false before MEMMAP). */
  get inArena(): boolean {
    return this.wasm;
  }

  /** Allocations recorded so far. */
  get count(): number {
    this.catchUp();
    return this.allocations;
  }

  /** Frames and blocks live now. */
  get liveFrames(): number {
    this.catchUp();
    return this.frames;
  }

  get liveBlocks(): number {
    this.catchUp();
    return this.blocks;
  }

  /** Frees of blocks allocated before the hub saw the allocator (a restored checkpoint). */
  get untrackedFrees(): number {
    this.catchUp();
    return this.untracked;
  }

  get invalidFrees(): readonly InvalidFree[] {
    this.catchUp();
    return this.invalid.kept;
  }

  get invalidFreeCount(): number {
    this.catchUp();
    return this.invalid.count;
  }

  /** The head index of the latest allocation that covered pfn, or -1 (never allocated, or the record was replaced). */
  rowOfFrame(pfn: number): number {
    this.catchUp();
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
    this.catchUp();
    const out: number[] = [];
    for (let r = 0; r < this.frameRow.length; r++) if (this.liveHead(r)) out.push(r);
    return out;
  }

  /**
   * Applies the ring's events since the last catch-up, in order: allocations and frees to the
   * records, invalid frees to their list (with the records as they stood at that event). A gap (the
   * ring lapped this reader) or a record that contradicts the allocator's events is a bug of ours.
   */
  catchUp(): void {
    if (this.broken !== null) throw this.broken;
    const ring = this.ring;
    const end = ring.total;
    if (this.applied === end || this.applying) return;
    if (end - this.applied > EVENT_RING_SIZE) throw new Error(`invariant: present-only page owner is ${end - this.applied} events behind its ring of ${EVENT_RING_SIZE}`);
    // Allocations and frees come after MEMMAP built the allocator; before it, only protocol errors.
    if (!this.ready && this.hub.allocator !== null) this.ensureFrames();
    this.applying = true;
    try {
      if (this.wasm) {
        // The arena's block writer applied every alloc and free before ring.pendingFrom as it wrote
        // them (since the last catch-up); nothing else there changes a record.
        const pending = ring.pendingFrom;
        const from = pending < 0 ? end : Math.max(this.applied, pending);
        this.applyInArena(from, end);
      } else this.apply(this.applied, end);
      this.applied = end;
      ring.clearPending();
    } catch (error) {
      this.broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      this.applying = false;
    }
  }

  /**
   * Applies ring entries [from, end), which the ring still holds: one loop with the tables in locals
   * and the records written out (writeAllocation aside), for every event of a run without an arena
   * and for each one the arena's loop leaves.
   */
  private apply(from: number, end: number): void {
    const ring = this.ring;
    const r = ring.ints;
    const floats = ring.floats;
    const ints = this.ints;
    const nums = this.nums;
    const frameRow = this.frameRow;
    const frames = frameRow.length;
    const base = this.basePfn;
    for (let n = from; n < end; n++) {
      const slot = n & (EVENT_RING_SIZE - 1);
      const p = slot * E_STRIDE;
      const packed = r[p + E_KIND]!;
      const kind = packed & EK_KIND_MASK;
      if (kind > KIND_FREE) {
        if (kind === KIND_PROTOCOL_ERROR) this.invalidFree(packed, p, slot);
        continue;
      }
      const pfn = r[p + E_PFN]!;
      const npages = r[p + E_NPAGES]!;
      const h = pfn - base;
      const i = h * I_STRIDE;
      const f = h * F_STRIDE;
      const live = h >= 0 && h < frames && ints[i + I_NPAGES]! > 0 && nums[f + F_FREE_SEQ]! < 0;
      const q = slot * EF_STRIDE;
      if (kind === KIND_ALLOC) {
        if (!this.ready || live) throw new Error(`invariant: page owner: pfn 0x${pfn.toString(16)} allocated ${this.ready ? "while already live" : "before MEMMAP built the allocator"}`);
        writeAllocation(ints, i, nums, f, pfn, npages, orderOf(packed), r[p + E_GFP]!, r[p + E_STACK]!, floats[q + EF_SEQ]!, floats[q + EF_ICOUNT]!);
        // Only frames in the table: a write outside it would be dropped, so no loop over them either.
        for (let k = Math.max(h, 0), stop = Math.min(h + npages, frames); k < stop; k++) frameRow[k] = h;
        this.allocations++;
        this.frames += npages;
        this.blocks++;
      } else if (!live || ints[i + I_NPAGES] !== npages) {
        unmatchedFree(this.hub, pfn, npages, live);
        this.untracked++;
      } else {
        ints[i + I_FREE_STACK] = r[p + E_STACK]!;
        nums[f + F_FREE_SEQ] = floats[q + EF_SEQ]!;
        nums[f + F_FREE_ICOUNT] = floats[q + EF_ICOUNT]!;
        this.frames -= npages;
        this.blocks--;
      }
    }
  }

  /**
   * apply() in the arena (which holds the tables once MEMMAP built the allocator): each event it
   * leaves (the uncommon cases) is applied here, one at a time.
   */
  private applyInArena(from: number, end: number): void {
    const arena = this.arena!;
    const frames = this.frameRow.length;
    let n = from;
    try {
      while (n < end) {
        n += arena.apply(n, end - n, this.basePfn, frames);
        if (n < end) {
          this.apply(n, n + 1);
          n++;
        }
      }
    } finally {
      const [allocations, liveFrames, blocks] = arena.takeCounters();
      this.allocations += allocations;
      this.frames += liveFrames;
      this.blocks += blocks;
    }
  }

  private invalidFree(packed: number, p: number, slot: number): void {
    const status = statusOf(packed);
    const cmd = cmdOf(packed);
    if (!isInvalidFree(status, cmd)) return;
    const r = this.ring.ints;
    const q = slot * EF_STRIDE;
    const size = cmd === Cmd.FREE_PAGES ? orderOf(packed) : r[p + E_NPAGES]! >>> 0;
    this.invalid.add(status, cmd, this.ring.floats[q + EF_SEQ]!, r[p + E_RECORD]!, r[p + E_PFN]!, size, r[p + E_STACK]!, this.ring.floats[q + EF_ICOUNT]!);
  }

  private checkRow(r: number): void {
    this.catchUp();
    if (!(r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0)) throw new Error(`invariant: present-only page owner has no record at head index ${r}`);
  }

  /** True when head index r holds the record of a live block. */
  private liveHead(r: number): boolean {
    return r >= 0 && r < this.frameRow.length && this.ints[r * I_STRIDE + I_NPAGES]! > 0 && this.nums[r * F_STRIDE + F_FREE_SEQ]! < 0;
  }

  private ensureFrames(): void {
    if (this.ready) return;
    const buddy = ownerAllocator(this.hub);
    this.basePfn = buddy.basePfn;
    const tables = this.arena?.tables(buddy.frameCount) ?? null;
    this.ints = tables?.ints ?? new Int32Array(buddy.frameCount * I_STRIDE);
    this.nums = tables?.nums ?? new Float64Array(buddy.frameCount * F_STRIDE);
    this.frameRow = tables?.frameRow ?? new Int32Array(buddy.frameCount).fill(NONE);
    this.wasm = tables !== null;
    this.ready = true;
  }
}
