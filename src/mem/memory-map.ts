// The physical memory map the allocator is built from: usable RAM minus reserved ranges.
// Usable ranges are rounded inward to whole frames, reserved ranges outward; overlaps merge;
// frame 0 is never managed (a null physical address must never be a valid block).

import { ADDRESS_LIMIT, PAGE_SIZE } from "./constants.js";
import { BuddyError, hex } from "./errors.js";

/** A byte range [base, end) of physical memory. */
export interface PhysRange {
  base: number;
  end: number;
}

/** A reserved byte range with the label a boot log prints for it. */
export interface ReservedRange extends PhysRange {
  label: string;
}

/** A frame range [startPfn, endPfn). */
export interface PfnRange {
  startPfn: number;
  endPfn: number;
}

export class MemoryMap {
  private readonly usableRanges: PhysRange[] = [];
  private readonly reservedRanges: ReservedRange[] = [];

  /** Declares [base, base + length) as RAM. Throws BuddyError EINVAL for a range outside [0, 4 GiB). */
  addUsable(base: number, length: number): void {
    checkRange("addUsable", base, length);
    this.usableRanges.push({ base, end: base + length });
  }

  /** Keeps [base, base + length) out of the allocator, whole frames rounded outward. */
  reserve(base: number, length: number, label: string): void {
    checkRange("reserve", base, length);
    this.reservedRanges.push({ base, end: base + length, label });
  }

  /** Usable RAM as sorted, merged byte ranges (not yet cut to frames). */
  usable(): PhysRange[] {
    return mergeRanges(this.usableRanges);
  }

  /** Every reserved range as given, sorted by base, labels kept (overlaps are not merged here). */
  reserved(): ReservedRange[] {
    return [...this.reservedRanges].sort((a, b) => a.base - b.base || a.end - b.end);
  }

  /** The label of the first reservation covering the frame at pfn, or undefined. */
  reservationLabel(pfn: number): string | undefined {
    const addr = pfn * PAGE_SIZE;
    return this.reservedRanges.find((r) => r.base < addr + PAGE_SIZE && r.end > addr)?.label;
  }

  /**
   * The frames the allocator manages: usable ranges rounded inward, minus reserved ranges
   * rounded outward, minus frame 0. Sorted, disjoint, non-adjacent.
   */
  managedPfnRanges(): PfnRange[] {
    const usable = this.usable()
      .map((r) => ({ startPfn: Math.max(1, Math.ceil(r.base / PAGE_SIZE)), endPfn: Math.floor(r.end / PAGE_SIZE) }))
      .filter((r) => r.startPfn < r.endPfn);
    const reserved = mergeRanges(this.reservedRanges).map((r) => ({
      startPfn: Math.floor(r.base / PAGE_SIZE),
      endPfn: Math.ceil(r.end / PAGE_SIZE),
    }));
    const out: PfnRange[] = [];
    for (const u of usable) {
      let start = u.startPfn;
      for (const r of reserved) {
        if (r.endPfn <= start || r.startPfn >= u.endPfn) continue;
        if (r.startPfn > start) out.push({ startPfn: start, endPfn: r.startPfn });
        start = Math.max(start, r.endPfn);
      }
      if (start < u.endPfn) out.push({ startPfn: start, endPfn: u.endPfn });
    }
    return out;
  }

  /** How many frames managedPfnRanges() covers. */
  managedPageCount(): number {
    return this.managedPfnRanges().reduce((sum, r) => sum + r.endPfn - r.startPfn, 0);
  }
}

function checkRange(fn: string, base: number, length: number): void {
  const ok =
    Number.isInteger(base) && Number.isInteger(length) && base >= 0 && length >= 0 && base + length <= ADDRESS_LIMIT;
  if (!ok) throw new BuddyError("EINVAL", `MemoryMap.${fn}: [${hex(base)}, +${hex(length)}) is not inside [0, 4 GiB)`);
}

/** Sorts and merges overlapping or touching ranges; empty ranges vanish. */
export function mergeRanges(ranges: readonly PhysRange[]): PhysRange[] {
  const sorted = ranges.filter((r) => r.end > r.base).sort((a, b) => a.base - b.base);
  const out: PhysRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.base <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ base: r.base, end: r.end });
  }
  return out;
}
