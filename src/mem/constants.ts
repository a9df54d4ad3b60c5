// Frame geometry, zones and GFP flags: the vocabulary of the allocator, shared with the hypercall ABI.
// Zones follow 32-bit x86 Linux: DMA below 16 MiB, Normal below 896 MiB, HighMem above.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Linux's MAX_PAGE_ORDER default: order-10 blocks are 4 MiB. Bounds named MAX_* are inclusive. */
export const DEFAULT_MAX_ORDER = 10;
/** The largest maxOrder the allocator accepts (1 GiB blocks). */
export const MAX_MAX_ORDER = 18;
/** Addresses are 32-bit: frames live in [0, 2^20). */
export const PFN_LIMIT = 1 << 20;
export const ADDRESS_LIMIT = PFN_LIMIT * PAGE_SIZE;

export const ZONE_DMA = 0;
export const ZONE_NORMAL = 1;
export const ZONE_HIGHMEM = 2;
export const ZONE_COUNT = 3;

/** Linux's classic per-CPU list values, in frames per zone. */
export const PCP_DEFAULT_BATCH = 63;
export const PCP_DEFAULT_HIGH = 378;
/** The per-CPU cache holds orders 0..PCP_MAX_ORDER (Linux's PAGE_ALLOC_COSTLY_ORDER). */
export const PCP_MAX_ORDER = 3;
export const PCP_ORDER_COUNT = PCP_MAX_ORDER + 1;

// Frame states, kept in the top three bits of each frame's `meta` byte; the low five bits hold a head's
// order (valid only while it is a head). Only the first frame of a block is a head; every other managed
// frame is TAIL. One byte answers "is my buddy a free head of order k?": meta[buddy] === (FREE_TAG | k).
export const FRAME_NONE = 0; // not managed: a hole, a reservation, frame 0, or outside RAM
export const FRAME_TAIL = 1; // managed, not the first frame of its block
export const FRAME_FREE = 2; // head of a free block on a buddy free list
export const FRAME_PCP = 3; // head of a free block on a per-CPU list (allocated, as the buddy lists see it)
export const FRAME_ALLOC = 4; // head of a block handed out by alloc_pages
export const FRAME_CONTIG_HEAD = 5; // first frame of an alloc_contig range; link[2*idx+1] = npages
export const FRAME_CONTIG_TAIL = 6; // other frame of an alloc_contig range; link[2*idx] = idx of the head

export const STATE_SHIFT = 5;
export const ORDER_MASK = 31;
export const TAIL_TAG = FRAME_TAIL << STATE_SHIFT;
export const FREE_TAG = FRAME_FREE << STATE_SHIFT;
export const PCP_TAG = FRAME_PCP << STATE_SHIFT;
export const ALLOC_TAG = FRAME_ALLOC << STATE_SHIFT;
export const CONTIG_HEAD_TAG = FRAME_CONTIG_HEAD << STATE_SHIFT;
export const CONTIG_TAIL_TAG = FRAME_CONTIG_TAIL << STATE_SHIFT;

// Where the per-zone tables sit in `lists` (see BuddyCore.lists in core.ts), at fixed offsets the build
// folds into the hot paths as literals: freeHead and nrFree, LIST_STRIDE lists per zone whatever the
// maxOrder (list (zone << LIST_SHIFT) | order: a shift and an or, where a per-allocator stride cost a
// load, an untag and a checked multiply), then per zone an order bitmap, zoneLo and zoneHi, 12 per-CPU
// lists (zone * PCP_ORDER_COUNT + order) of heads, of tails, per zone the per-CPU count and drain
// index, and the 12 zone list slots. The hot paths add a small index to LIST_COUNT (list < 128) and
// ZT_ORDER_MASK (zone < 4) with `|`: V8 checks an addition for overflow, an or needs no check.
// Literal numbers placed before any object initializer: the build folds only those into the hot paths.
export const LIST_SHIFT = 5;
/** Lists per zone in freeHead and nrFree: orders 0..MAX_MAX_ORDER fit. */
export const LIST_STRIDE = 1 << LIST_SHIFT;
export const LIST_HEAD = 0;
export const LIST_COUNT = 128;
export const ZT_ORDER_MASK = 224;
export const ZT_ZONE_LO = 227;
export const ZT_ZONE_HI = 230;
export const ZT_PCP_HEAD = 233;
export const ZT_PCP_TAIL = 245;
export const ZT_PCP_COUNT = 257;
export const ZT_PCP_DRAIN = 260;
/**
 * A copy of `zonelist` (which stays an Int8Array for its readers), for the allocation fast path: all -1
 * while a hook is attached, which sends every allocation to the slow path (see BuddyCore.fastFrameCount).
 */
export const ZT_ZONELIST = 263;
/**
 * Where the frames' links start in `lists`: after the tables (which end at 275), at a multiple of 16
 * words, a cache line. link[i] (BuddyCore.link, a view) is lists[LINK_BASE + i].
 */
export const LINK_BASE = 288;

/** GFP.ZERO as a plain constant, for hot paths. */
export const GFP_ZERO = 0x100;
/**
 * GFP.HIGHMEM as a plain constant, for callers' loops: the build folds it as a literal, and V8 then
 * folds the allocation fast path's gfp tests away (a gfp read from GFP stays a tagged value, untagged
 * and tested on every call).
 */
export const GFP_HIGHMEM = 0x2;
/** Every bit a caller may set; anything else is EINVAL. */
export const GFP_VALID_MASK = 0x103; // GFP.DMA | GFP.HIGHMEM | GFP.ZERO
/** The bits that choose a zone list; DMA|HIGHMEM together is Linux's GFP_ZONE_BAD. */
export const GFP_ZONE_MASK = 0x3; // GFP.DMA | GFP.HIGHMEM

// Objects and arrays come after every primitive constant: esbuild inlines a module's constants into
// the hot paths only while no non-primitive initializer precedes them.
export const ZONE_NAMES: readonly string[] = ["DMA", "Normal", "HighMem"];
/** First pfn past each zone: 16 MiB, 896 MiB, 4 GiB. */
export const ZONE_END_PFN: readonly number[] = [0x1000, 0x38000, PFN_LIMIT];

/** Get-free-page flags, numbered as in the ABI. A zero gfp is GFP_KERNEL. */
export const GFP = {
  KERNEL: 0,
  DMA: 0x1,
  HIGHMEM: GFP_HIGHMEM,
  ZERO: GFP_ZERO,
} as const;

/** True when gfp has only known bits and names at most one zone modifier. */
export function gfpIsValid(gfp: number): boolean {
  return gfp >>> 0 === gfp && (gfp & ~GFP_VALID_MASK) === 0 && (gfp & GFP_ZONE_MASK) !== GFP_ZONE_MASK;
}

/** Linux's show_gfp_flags style with the ABI's names (PROTOCOL.md): "GFP_KERNEL|GFP_ZERO", "GFP_HIGHMEM". */
export function gfpToString(gfp: number): string {
  const parts = [gfp & GFP.DMA ? "GFP_DMA" : gfp & GFP.HIGHMEM ? "GFP_HIGHMEM" : "GFP_KERNEL"];
  if (gfp & GFP.ZERO) parts.push("GFP_ZERO");
  const unknown = gfp & ~GFP_VALID_MASK;
  if (unknown) parts.push("0x" + (unknown >>> 0).toString(16));
  return parts.join("|");
}
