// Contiguous ranges of exactly npages frames (FreeBSD vm_phys_alloc_contig): a run may span several
// adjacent free blocks, even past a max-order block; the parts of those blocks outside the run go
// straight back to the free lists. A range is recorded frame by frame (CONTIG_HEAD holds npages, every
// CONTIG_TAIL points at its head) so that its free is checked like any other.

import { CONTIG_HEAD_TAG, CONTIG_TAIL_TAG, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_NONE, FRAME_TAIL, TAIL_TAG } from "./constants.js";
import type { BuddyCore } from "./core.js";
import { invariant } from "./errors.js";

/** Where a run may start and what it may not cross, all in frames. */
export interface ContigWindow {
  /** Frame index range [lo, hi) the run must lie in. */
  lo: number;
  hi: number;
  /** The run's first pfn is a multiple of this (a power of two). */
  alignPages: number;
  /** When > 0, the run does not cross a multiple of this pfn (a power of two). */
  boundaryPages: number;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/**
 * Finds the lowest run of npages free frames in the window that satisfies its alignment and
 * boundary, using only blocks on the buddy lists. Returns its first frame index, or -1.
 * Cost: proportional to the number of blocks (and holes) the search steps over.
 */
export function findContigRun(core: BuddyCore, npages: number, w: ContigWindow): number {
  const base = core.basePfn;
  let pfn = alignUp(w.lo + base, w.alignPages);
  for (;;) {
    if (w.boundaryPages > 0) {
      const boundaryEnd = (Math.floor(pfn / w.boundaryPages) + 1) * w.boundaryPages;
      if (pfn + npages > boundaryEnd) {
        pfn = alignUp(boundaryEnd, w.alignPages);
        continue;
      }
    }
    const start = pfn - base;
    if (start + npages > w.hi) return -1;
    const resume = firstBusyEnd(core, start, start + npages);
    if (resume < 0) return start;
    pfn = alignUp(resume + base, w.alignPages);
  }
}

/** -1 when every frame of [start, end) lies in a free buddy block; else the index past the first obstacle. */
function firstBusyEnd(core: BuddyCore, start: number, end: number): number {
  const link = core.link;
  let q = start;
  while (q < end) {
    const s = core.stateAt(q);
    if (s === FRAME_NONE) return q + 1;
    if (s === FRAME_CONTIG_HEAD) return q + link[2 * q + 1]!;
    if (s === FRAME_CONTIG_TAIL) {
      const head = link[2 * q]!;
      return head + link[2 * head + 1]!;
    }
    const head = s === FRAME_TAIL ? core.findHead(q) : q;
    invariant(head >= 0, `findContigRun: frame idx ${q} has no head`);
    const blockEnd = head + 2 ** core.orderAt(head);
    if (core.stateAt(head) !== FRAME_FREE) return blockEnd;
    q = blockEnd;
  }
  return -1;
}

/**
 * Takes the free run [start, start + npages) of one zone off the buddy lists and records it as a
 * contig range. Every frame of it must lie in a free block (findContigRun said so).
 */
export function takeContigRun(core: BuddyCore, start: number, npages: number, zone: number): void {
  const end = start + npages;
  let q = start;
  while (q < end) {
    const head = core.stateAt(q) === FRAME_FREE ? q : core.findHead(q);
    invariant(head >= 0 && core.stateAt(head) === FRAME_FREE, `takeContigRun: frame idx ${q} is not free`);
    const order = core.orderAt(head);
    const blockEnd = head + 2 ** order;
    core.delFree(head, order, zone);
    core.meta[head] = TAIL_TAG;
    // The cut-off parts cannot merge with anything: their buddies lie inside the block just taken.
    if (head < start) insertRange(core, head, start, zone);
    if (blockEnd > end) insertRange(core, end, blockEnd, zone);
    q = blockEnd;
  }
  core.meta[start] = CONTIG_HEAD_TAG;
  core.meta.fill(CONTIG_TAIL_TAG, start + 1, end);
  for (let i = start; i < end; i++) core.link[2 * i] = start;
  core.link[2 * start + 1] = npages;
}

/** Gives a recorded contig range back to the buddy lists, merging as any free does. */
export function releaseContigRun(core: BuddyCore, start: number, npages: number, zone: number): void {
  core.meta.fill(TAIL_TAG, start, start + npages);
  freeRange(core, start, start + npages, zone);
}

/**
 * Frees the frames [start, end) of one zone as the largest aligned blocks that fit, merging each
 * with free buddies. The frames must be FRAME_TAIL (or heads about to be dropped) and not on a list.
 */
function freeRange(core: BuddyCore, start: number, end: number, zone: number): void {
  while (start < end) {
    const order = core.largestFit(start, end);
    core.freeOne(start, order, zone);
    start += 1 << order;
  }
}

/** Like freeRange but with no merge attempts: for ranges whose buddies are known not to be free. */
function insertRange(core: BuddyCore, start: number, end: number, zone: number): void {
  while (start < end) {
    const order = core.largestFit(start, end);
    core.pushFree(start, order, zone);
    start += 1 << order;
  }
}
