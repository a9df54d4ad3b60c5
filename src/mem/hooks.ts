// The allocator's optional hooks and options: a listener that hears every event, a predicate
// consulted before each allocation (fault injection), and the per-CPU cache settings. Absent hooks
// cost the hot paths nothing beyond tests they make anyway (BuddyCore.fastFrameCount).

/** Optional observer of everything the allocator does. Absent, it costs one null test per event site. */
export interface BuddyListener {
  /**
   * A block of 2^order frames at pfn was handed out. Called before GFP_ZERO clears the block, so
   * the block's guest bytes are still those it held while free (poison checking relies on it). A
   * listener that reports page requests itself (below) is told only of other allocations' blocks.
   */
  alloc(pfn: number, order: number, zone: number, gfp: number): void;
  /** A block of 2^order frames at pfn was given back by its owner. */
  free(pfn: number, order: number, zone: number): void;
  /** A free block of order+1 at pfn was split; its upper half (pfn + 2^order) went to the free list. */
  split(pfn: number, order: number, zone: number): void;
  /** Two free buddies of order-1 merged into the block of `order` at pfn. */
  merge(pfn: number, order: number, zone: number): void;
  /** An allocation of `order` (npages for contig, as -npages) failed; injected when a fault predicate said so. */
  fail(order: number, gfp: number, injected: boolean): void;
  /** `frames` frames went from a zone's per-CPU lists back to its buddy lists. */
  pcpDrain(zone: number, frames: number): void;
  /** A contiguous range of npages frames at pfn was handed out (ALLOC_CONTIG); before GFP_ZERO, as alloc. */
  allocContig(pfn: number, npages: number, zone: number, gfp: number): void;
  /** A contiguous range was given back (FREE_CONTIG). */
  freeContig(pfn: number, npages: number, zone: number): void;
  /**
   * True when the listener's caller reports the page requests itself: the alloc of each block that
   * tryAllocPages hands out and the free of each block tryFreePages takes back (and so those of the
   * page API built on them: allocPages, getFreePage, the exact pair's block and tail) are then not told
   * to the listener, and the allocator serves those requests on its fast paths, telling only of what
   * they cause (splits, merges, per-CPU drains, failures). Contig ranges are told as always. The event
   * hub is such a listener: it observes the hypercall bridge, the allocator's only caller in a run,
   * and tells its subscribers of each page request in the allocator's own order (event-hub.ts).
   * Absent or false: every event is told.
   */
  readonly reportsPageRequests?: boolean;
}

/**
 * Consulted before each allocation: true makes it fail with ENOMEM (fault injection). order is -1 for
 * a contig request, npages is 2^order for alloc_pages.
 */
export type FailPredicate = (order: number, npages: number, gfp: number) => boolean;

/** A listener that forwards every event to two others, in order (keeps one someone attached first). */
export function fanOutListener(a: BuddyListener, b: BuddyListener): BuddyListener {
  return {
    alloc: (pfn, order, zone, gfp) => (a.alloc(pfn, order, zone, gfp), b.alloc(pfn, order, zone, gfp)),
    free: (pfn, order, zone) => (a.free(pfn, order, zone), b.free(pfn, order, zone)),
    split: (pfn, order, zone) => (a.split(pfn, order, zone), b.split(pfn, order, zone)),
    merge: (pfn, order, zone) => (a.merge(pfn, order, zone), b.merge(pfn, order, zone)),
    fail: (order, gfp, injected) => (a.fail(order, gfp, injected), b.fail(order, gfp, injected)),
    pcpDrain: (zone, frames) => (a.pcpDrain(zone, frames), b.pcpDrain(zone, frames)),
    allocContig: (pfn, npages, zone, gfp) => (a.allocContig(pfn, npages, zone, gfp), b.allocContig(pfn, npages, zone, gfp)),
    freeContig: (pfn, npages, zone) => (a.freeContig(pfn, npages, zone), b.freeContig(pfn, npages, zone)),
  };
}

/** Per-CPU cache settings in frames per zone; `false` turns the cache off (a pure buddy). */
export type PcpOptions = false | { high: number; batch: number };
