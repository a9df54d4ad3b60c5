// Linux's text reports, byte for byte: /proc/buddyinfo (mm/vmstat.c frag_show_print) and the debugfs
// extfrag/unusable_index and extfrag/extfrag_index files (unusable_free_index, __fragmentation_index).
// Like Linux they read the buddy free lists only: blocks in the per-CPU cache are not counted.

import { LIST_STRIDE, ZONE_COUNT, ZONE_NAMES } from "./constants.js";
import type { BuddyCore } from "./core.js";

/** Zones with at least one managed frame, in address order. */
export function presentZones(core: BuddyCore): number[] {
  const out: number[] = [];
  for (let z = 0; z < ZONE_COUNT; z++) if (core.zoneManaged[z]! > 0) out.push(z);
  return out;
}

/** Free blocks per order on zone's buddy lists. */
export function zoneFreeBlocks(core: BuddyCore, zone: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < core.orderCount; o++) out.push(core.nrFree[zone * LIST_STRIDE + o]!);
  return out;
}

function zonePrefix(zone: number): string {
  return `Node 0, zone ${ZONE_NAMES[zone]!.padStart(8)} `;
}

/** /proc/buddyinfo: "Node 0, zone %8s " then "%6lu " per order, one line per zone. */
export function buddyinfoText(core: BuddyCore): string {
  return presentZones(core)
    .map((z) => zonePrefix(z) + zoneFreeBlocks(core, z).map((n) => `${String(n).padStart(6)} `).join("") + "\n")
    .join("");
}

/** Linux struct contig_page_info for one zone and a requested order. */
interface ContigPageInfo {
  freePages: number;
  freeBlocksTotal: number;
  freeBlocksSuitable: number;
}

function contigPageInfo(blocks: readonly number[], suitableOrder: number): ContigPageInfo {
  const info = { freePages: 0, freeBlocksTotal: 0, freeBlocksSuitable: 0 };
  blocks.forEach((n, order) => {
    info.freeBlocksTotal += n;
    info.freePages += n * 2 ** order;
    if (order >= suitableOrder) info.freeBlocksSuitable += n * 2 ** (order - suitableOrder);
  });
  return info;
}

/** Linux unusable_free_index, in thousandths: the share of free memory unusable for an order. */
export function unusableFreeIndex(blocks: readonly number[], order: number): number {
  const info = contigPageInfo(blocks, order);
  if (info.freePages === 0) return 1000;
  return Math.floor(((info.freePages - info.freeBlocksSuitable * 2 ** order) * 1000) / info.freePages);
}

/**
 * unusableFreeIndex of one buddyinfo row for every order 0..out.length-1, into `out`, in one pass
 * from the top order down: the suitable blocks of order k, shifted back to pages, are the pages in
 * blocks of order k and above. The same integers; the web page's chart (418 points, 11 orders) would
 * otherwise call unusableFreeIndex 4,598 times per display frame.
 */
export function unusableFreeIndexRow(blocks: readonly number[], out: Float64Array): void {
  // Block sizes as running powers of two (exact in doubles): `2 ** o` with a variable exponent is a
  // call to V8's pow, about 100 instructions, and the chart made 22 of them per point.
  let freePages = 0;
  for (let o = 0, size = 1; o < blocks.length; o++, size *= 2) freePages += blocks[o]! * size;
  let pagesAbove = 0;
  for (let order = out.length - 1, size = 2 ** order; order >= 0; order--, size /= 2) {
    if (order < blocks.length) pagesAbove += blocks[order]! * size;
    out[order] = freePages === 0 ? 1000 : Math.floor(((freePages - pagesAbove) * 1000) / freePages);
  }
}

/**
 * Linux __fragmentation_index, in thousandths: -1000 when the order could be served now, else towards
 * 0 when a failure would be for lack of memory and towards 1000 when for fragmentation.
 */
export function fragmentationIndex(blocks: readonly number[], order: number): number {
  const info = contigPageInfo(blocks, order);
  if (info.freeBlocksTotal === 0) return 0;
  if (info.freeBlocksSuitable > 0) return -1000;
  const requested = 2 ** order;
  return 1000 - Math.floor((1000 + Math.floor((info.freePages * 1000) / requested)) / info.freeBlocksTotal);
}

/**
 * C's "%*d.%03d" of index / 1000 and index % 1000, both truncating towards zero as C's int division
 * does. A negative index above -1000 keeps its sign in the remainder, as Linux prints it: -500 is
 * " 0.-500" (__fragmentation_index is negative when a zone's one free block is smaller than the
 * request).
 */
export function formatThousandths(index: number, width: number): string {
  const whole = Math.trunc(index / 1000) + 0; // + 0: -0 prints as 0, as C's int does
  return `${String(whole).padStart(width)}.${cZeroPadded(index % 1000, 3)} `;
}

/** C's "%0Nd": zero-padded to N characters after the sign, which counts towards N. */
function cZeroPadded(n: number, width: number): string {
  const digits = String(Math.abs(n));
  return n < 0 ? `-${digits.padStart(width - 1, "0")}` : digits.padStart(width, "0");
}

/** debugfs extfrag/unusable_index: "%d.%03d " per order. */
export function unusableIndexText(core: BuddyCore): string {
  return presentZones(core)
    .map((z) => {
      const blocks = zoneFreeBlocks(core, z);
      return zonePrefix(z) + blocks.map((_, o) => formatThousandths(unusableFreeIndex(blocks, o), 1)).join("") + "\n";
    })
    .join("");
}

/** debugfs extfrag/extfrag_index: "%2d.%03d " per order. */
export function extfragIndexText(core: BuddyCore): string {
  return presentZones(core)
    .map((z) => {
      const blocks = zoneFreeBlocks(core, z);
      return zonePrefix(z) + blocks.map((_, o) => formatThousandths(fragmentationIndex(blocks, o), 2)).join("") + "\n";
    })
    .join("");
}
