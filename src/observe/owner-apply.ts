// The loop that applies the web page's event ring (event-ring.ts) to the present-only page owner's
// records (present-owner.ts), written over plain typed arrays so that it runs wherever those arrays
// are: in the guest's thread, or in a worker of its own over shared memory (owner-applier.ts). It
// applies the plain events, an allocation of a head frame with no live record and a free that
// matches its live record, and stops at anything else (a protocol error, a free that matches no
// live block, an allocation over a live one) for the owner to handle with the hub at hand: an
// invalid free's report, a restored run's untracked free, or a loud invariant error.
// Imports only layout constants, which the build folds into the loop.

import {
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EK_KIND_MASK,
  EK_ORDER_SHIFT,
  EVENT_RING_SIZE,
  E_GFP,
  E_KIND,
  E_NPAGES,
  E_PFN,
  E_STACK,
  E_STRIDE,
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
  KIND_PROTOCOL_ERROR,
  OWNER_NONE as NONE,
} from "./layout.js";

/** Indices of OwnerTables.counts. */
export const C_ALLOCATIONS = 0;
export const C_FRAMES = 1;
export const C_BLOCKS = 2;
export const C_LENGTH = 3;

/** The present-only page owner's records, one per head frame, and what they add up to. */
export interface OwnerTables {
  /** Per head frame: I_STRIDE ints (I_NPAGES 0: never a head). */
  ints: Int32Array;
  /** Per head frame: F_STRIDE float64 fields. */
  nums: Float64Array;
  /** Per frame: the head index of the latest allocation that covered it, or -1. */
  frameRow: Int32Array;
  /** Allocations recorded, frames and blocks live (C_*). */
  counts: Float64Array;
  basePfn: number;
}

/**
 * Applies ring events [from, end), which the ring still holds, to `t` while they are plain; returns
 * end, or the number of the first event that is not, which it leaves untouched. One loop with the
 * tables in locals and the records written out: it runs for every allocation and free of the run.
 */
export function applyPlainEvents(ringInts: Int32Array, ringFloats: Float64Array, t: OwnerTables, from: number, end: number): number {
  const ints = t.ints;
  const nums = t.nums;
  const frameRow = t.frameRow;
  const frames = frameRow.length;
  const base = t.basePfn;
  const counts = t.counts;
  let allocations = counts[C_ALLOCATIONS]!;
  let live = counts[C_FRAMES]!;
  let blocks = counts[C_BLOCKS]!;
  let n = from;
  for (; n < end; n++) {
    const slot = n & (EVENT_RING_SIZE - 1);
    const p = slot * E_STRIDE;
    const packed = ringInts[p + E_KIND]!;
    const kind = packed & EK_KIND_MASK;
    if (kind > KIND_FREE) {
      if (kind === KIND_PROTOCOL_ERROR) break; // maybe an invalid free: the owner's to report
      continue;
    }
    const pfn = ringInts[p + E_PFN]!;
    const npages = ringInts[p + E_NPAGES]!;
    const h = pfn - base;
    if (h < 0 || h >= frames) break;
    const i = h * I_STRIDE;
    const f = h * F_STRIDE;
    const isLive = ints[i + I_NPAGES]! > 0 && nums[f + F_FREE_SEQ]! < 0;
    const q = slot * EF_STRIDE;
    if (kind === KIND_ALLOC) {
      if (isLive || h + npages > frames) break;
      const o = (packed >> EK_ORDER_SHIFT) & 0xff;
      ints[i + I_PFN] = pfn;
      ints[i + I_NPAGES] = npages;
      ints[i + I_ORDER] = o === 0xff ? -1 : o - 1;
      ints[i + I_GFP] = ringInts[p + E_GFP]!;
      ints[i + I_ALLOC_STACK] = ringInts[p + E_STACK]!;
      ints[i + I_FREE_STACK] = NONE;
      nums[f + F_ALLOC_SEQ] = ringFloats[q + EF_SEQ]!;
      nums[f + F_ALLOC_ICOUNT] = ringFloats[q + EF_ICOUNT]!;
      nums[f + F_FREE_SEQ] = NONE;
      nums[f + F_FREE_ICOUNT] = NONE;
      for (let k = h, stop = h + npages; k < stop; k++) frameRow[k] = h;
      allocations++;
      live += npages;
      blocks++;
    } else {
      if (!isLive || ints[i + I_NPAGES] !== npages) break;
      ints[i + I_FREE_STACK] = ringInts[p + E_STACK]!;
      nums[f + F_FREE_SEQ] = ringFloats[q + EF_SEQ]!;
      nums[f + F_FREE_ICOUNT] = ringFloats[q + EF_ICOUNT]!;
      live -= npages;
      blocks--;
    }
  }
  counts[C_ALLOCATIONS] = allocations;
  counts[C_FRAMES] = live;
  counts[C_BLOCKS] = blocks;
  return n;
}
