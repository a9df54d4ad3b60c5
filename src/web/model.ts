// What every panel of the page draws from: one moment of the allocator as src/observe's snapshot (the
// per-frame state bytes, state << 5 | order, plus zones and reservations), the model of the CLI's
// reports and pictures too. A live run's snapshot reads the allocator's own meta array (no copy); a
// replayed trace's comes from the file. Here too: which block a frame is in.

import {
  FRAME_ALLOC,
  FRAME_CONTIG_HEAD,
  FRAME_CONTIG_TAIL,
  FRAME_FREE,
  FRAME_NONE,
  FRAME_PCP,
  ORDER_MASK,
  PAGE_SIZE,
  STATE_SHIFT,
  ZONE_COUNT,
  ZONE_END_PFN,
  ZONE_NAMES,
  type BuddyAllocator,
  type MemoryMap,
} from "../mem/index.js";
import { takeSnapshot, type AllocatorSnapshot, type ReservedSpan } from "../observe/snapshot.js";

// The page reads the allocator's meta bytes with the allocator's own layout constants.
export { ORDER_MASK, STATE_SHIFT };

/** One moment of the allocator: src/observe's snapshot, the one model of reports and pictures. */
export type MemorySnapshot = AllocatorSnapshot;
export type { ReservedSpan };

/**
 * A snapshot that reads the live allocator: `meta` IS the allocator's array, so the snapshot follows
 * every call without copying; only `seq` needs setting. Zones and reservations are fixed at MEMMAP.
 */
export function liveSnapshot(buddy: BuddyAllocator, map: MemoryMap | null, ramBytes: number): MemorySnapshot {
  const snap = takeSnapshot(buddy, map, ramBytes, -1);
  snap.meta = buddy.meta;
  return snap;
}

export type BlockKind = "free" | "pcp" | "alloc" | "contig" | "reserved" | "hole";

/** The block a frame belongs to, as the inspector shows it. */
export interface BlockInfo {
  kind: BlockKind;
  /** First frame and length of the block (or of the reserved span / the single frame of a hole). */
  headPfn: number;
  npages: number;
  /** Buddy order, -1 for contig ranges, reservations and holes. */
  order: number;
  /** Zone index (0 DMA, 1 Normal, 2 HighMem) by address. */
  zone: number;
  /** The reservation's label, else "". */
  label: string;
}

export function zoneOfPfn(pfn: number): number {
  for (let z = 0; z < ZONE_COUNT; z++) if (pfn < ZONE_END_PFN[z]!) return z;
  return ZONE_COUNT - 1;
}

export function zoneName(zone: number): string {
  return ZONE_NAMES[zone] ?? "?";
}

/** The state of frame pfn (FRAME_NONE outside the metadata). */
export function stateAt(snap: MemorySnapshot, pfn: number): number {
  const idx = pfn - snap.basePfn;
  return idx >= 0 && idx < snap.meta.length ? snap.meta[idx]! >>> STATE_SHIFT : FRAME_NONE;
}

/**
 * Index of the head of the buddy block covering frame idx, or -1. Blocks are aligned to their size
 * relative to basePfn (a multiple of the max-order block), so the head is idx with its low k bits
 * cleared for the smallest k whose candidate is a head (free, per-CPU or allocated) long enough.
 */
export function buddyHeadIndex(snap: MemorySnapshot, idx: number): number {
  const meta = snap.meta;
  for (let k = 0; k <= snap.maxOrder; k++) {
    const head = idx & ~((1 << k) - 1);
    const m = meta[head]!;
    const st = m >>> STATE_SHIFT;
    if ((st === FRAME_FREE || st === FRAME_PCP || st === FRAME_ALLOC) && head + (1 << (m & ORDER_MASK)) > idx) return head;
  }
  return -1;
}

/** The block (or reserved span, or hole) frame pfn belongs to. */
export function blockOf(snap: MemorySnapshot, pfn: number): BlockInfo {
  const zone = zoneOfPfn(pfn);
  const idx = pfn - snap.basePfn;
  const meta = snap.meta;
  const st = idx >= 0 && idx < meta.length ? meta[idx]! >>> STATE_SHIFT : FRAME_NONE;
  if (st === FRAME_CONTIG_HEAD || st === FRAME_CONTIG_TAIL) {
    let head = idx;
    while (head > 0 && meta[head]! >>> STATE_SHIFT === FRAME_CONTIG_TAIL) head--;
    let end = idx + 1;
    while (end < meta.length && meta[end]! >>> STATE_SHIFT === FRAME_CONTIG_TAIL) end++;
    return { kind: "contig", headPfn: head + snap.basePfn, npages: end - head, order: -1, zone, label: "" };
  }
  if (st !== FRAME_NONE) {
    const head = buddyHeadIndex(snap, idx);
    if (head >= 0) {
      const m = meta[head]!;
      const hs = m >>> STATE_SHIFT;
      const kind: BlockKind = hs === FRAME_FREE ? "free" : hs === FRAME_PCP ? "pcp" : "alloc";
      return { kind, headPfn: head + snap.basePfn, npages: 1 << (m & ORDER_MASK), order: m & ORDER_MASK, zone, label: "" };
    }
  }
  const span = snap.reserved.find((r) => pfn >= r.startPfn && pfn < r.endPfn);
  if (span !== undefined) return { kind: "reserved", headPfn: span.startPfn, npages: span.endPfn - span.startPfn, order: -1, zone, label: span.label };
  const isRam = pfn < snap.ramPfns;
  return { kind: isRam ? "reserved" : "hole", headPfn: pfn, npages: 1, order: -1, zone, label: isRam ? "not in the memory map" : "not RAM" };
}

/** Present zones with their pfn spans, for zoom buttons and boundary lines. */
export function zoneSpans(snap: MemorySnapshot): { zone: number; name: string; startPfn: number; endPfn: number }[] {
  const out: { zone: number; name: string; startPfn: number; endPfn: number }[] = [];
  for (let z = 0; z < ZONE_COUNT; z++) {
    if (snap.zoneManaged[z]! === 0) continue;
    // Zones start at their boundary address (DMA at 0) and end at the next or at the end of RAM.
    const startPfn = z === 0 ? 0 : ZONE_END_PFN[z - 1]!;
    out.push({ zone: z, name: zoneName(z), startPfn, endPfn: Math.min(ZONE_END_PFN[z]!, snap.ramPfns) });
  }
  return out;
}

export function hexAddr(pfn: number): string {
  return "0x" + (pfn * PAGE_SIZE).toString(16).padStart(8, "0");
}

export function hexPfn(pfn: number): string {
  return "0x" + pfn.toString(16);
}

/** Owner colouring's table: per frame of the map (index from basePfn), its owner's index in names, or -1. */
export interface OwnerTable {
  names: string[];
  ids: Int32Array;
}

/** Builds an OwnerTable block by block (a live run's worker from its page owner, a replay from its trace). */
export class OwnerTableBuilder {
  readonly table: OwnerTable;
  private readonly index = new Map<string, number>();

  constructor(frameCount: number) {
    this.table = { names: [], ids: new Int32Array(frameCount).fill(-1) };
  }

  /** Frames [idx, idx + npages) belong to a block of `owner` (clipped to the table). */
  add(idx: number, npages: number, owner: string): void {
    const { names, ids } = this.table;
    let k = this.index.get(owner);
    if (k === undefined) {
      k = names.length;
      names.push(owner);
      this.index.set(owner, k);
    }
    const start = Math.max(0, idx);
    const end = Math.min(ids.length, idx + npages);
    if (start < end) ids.fill(k, start, end);
  }
}
