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
export const ZONE_NAMES: readonly string[] = ["DMA", "Normal", "HighMem"];
/** First pfn past each zone: 16 MiB, 896 MiB, 4 GiB. */
export const ZONE_END_PFN: readonly number[] = [0x1000, 0x38000, PFN_LIMIT];

/** Get-free-page flags, numbered as in the ABI. A zero gfp is GFP_KERNEL. */
export const GFP = {
  KERNEL: 0,
  DMA: 0x1,
  HIGHMEM: 0x2,
  ZERO: 0x100,
} as const;
/** Every bit a caller may set; anything else is EINVAL. */
export const GFP_VALID_MASK = GFP.DMA | GFP.HIGHMEM | GFP.ZERO;
/** The bits that choose a zone list; DMA|HIGHMEM together is Linux's GFP_ZONE_BAD. */
export const GFP_ZONE_MASK = GFP.DMA | GFP.HIGHMEM;

/** Linux's classic per-CPU list values, in frames per zone. */
export const PCP_DEFAULT_BATCH = 63;
export const PCP_DEFAULT_HIGH = 378;
/** The per-CPU cache holds orders 0..PCP_MAX_ORDER (Linux's PAGE_ALLOC_COSTLY_ORDER). */
export const PCP_MAX_ORDER = 3;
export const PCP_ORDER_COUNT = PCP_MAX_ORDER + 1;

/** True when gfp has only known bits and names at most one zone modifier. */
export function gfpIsValid(gfp: number): boolean {
  return gfp >>> 0 === gfp && (gfp & ~GFP_VALID_MASK) === 0 && (gfp & GFP_ZONE_MASK) !== GFP_ZONE_MASK;
}

/** Linux's show_gfp_flags style: "GFP_KERNEL|__GFP_ZERO". */
export function gfpToString(gfp: number): string {
  const parts = [gfp & GFP.DMA ? "GFP_DMA" : gfp & GFP.HIGHMEM ? "GFP_HIGHUSER" : "GFP_KERNEL"];
  if (gfp & GFP.ZERO) parts.push("__GFP_ZERO");
  const unknown = gfp & ~GFP_VALID_MASK;
  if (unknown) parts.push("0x" + (unknown >>> 0).toString(16));
  return parts.join("|");
}
