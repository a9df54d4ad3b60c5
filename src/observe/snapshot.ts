// An allocator snapshot for reports and pictures: the per-frame state byte (state << 5 | order, as
// src/mem/core.ts keeps it) plus the geometry needed to read it (zones, reservations, RAM size). The
// same snapshot comes from a live allocator, from a replayed one, or from a trace file (run-length
// encoded, base64), so every report and picture is computed one way whatever its source.

import {
  FRAME_ALLOC,
  FRAME_CONTIG_HEAD,
  FRAME_CONTIG_TAIL,
  FRAME_FREE,
  FRAME_NONE,
  FRAME_PCP,
  PAGE_SIZE,
  ZONE_COUNT,
  ZONE_NAMES,
  type BuddyAllocator,
  type MemoryMap,
} from "../mem/index.js";

const STATE_SHIFT = 5;
const ORDER_MASK = 31;

export interface ReservedSpan {
  startPfn: number;
  endPfn: number;
  label: string;
}

export interface AllocatorSnapshot {
  /** The call after which it was taken (-1: before any call). */
  seq: number;
  maxOrder: number;
  basePfn: number;
  /** Per-frame state bytes, frame i is pfn basePfn + i. */
  meta: Uint8Array;
  /** Per zone (DMA, Normal, HighMem): the frame-index span [lo, hi) and the managed frames. */
  zoneLo: number[];
  zoneHi: number[];
  zoneManaged: number[];
  /** Guest RAM in frames (frames past the metadata and below this are unmanaged RAM). */
  ramPfns: number;
  reserved: ReservedSpan[];
}

/** Per-zone numbers read off a snapshot (like the allocator's zones(), plus the per-CPU lists). */
export interface ZoneStats {
  zone: number;
  name: string;
  managed: number;
  /** Free blocks per order on the buddy lists (a buddyinfo row). */
  freeBlocks: number[];
  /** Blocks per order on the per-CPU lists. */
  pcpBlocks: number[];
  freeFrames: number;
  pcpFrames: number;
  /** Frames handed to the guest (alloc_pages blocks and contig ranges). */
  allocFrames: number;
  /** Max-order pageblocks by occupancy: all free (buddy or per-CPU), all allocated, mixed. */
  blocksFree: number;
  blocksFull: number;
  blocksMixed: number;
}

/** A snapshot of a live (or replayed) allocator. */
export function takeSnapshot(buddy: BuddyAllocator, map: MemoryMap | null, ramBytes: number, seq: number): AllocatorSnapshot {
  return {
    seq,
    maxOrder: buddy.maxOrder,
    basePfn: buddy.basePfn,
    meta: buddy.meta.slice(),
    zoneLo: Array.from(buddy.zoneLo),
    zoneHi: Array.from(buddy.zoneHi),
    zoneManaged: Array.from(buddy.zoneManaged),
    ramPfns: Math.floor(ramBytes / PAGE_SIZE),
    reserved: map === null ? [] : map.reserved().map((r) => ({ startPfn: Math.floor(r.base / PAGE_SIZE), endPfn: Math.ceil(r.end / PAGE_SIZE), label: r.label })),
  };
}

export function stateOf(metaByte: number): number {
  return metaByte >>> STATE_SHIFT;
}

export function orderOf(metaByte: number): number {
  return metaByte & ORDER_MASK;
}

/** The zones with managed frames, with their free lists and occupancy. One pass over the zone. */
export function zoneStats(snap: AllocatorSnapshot): ZoneStats[] {
  const out: ZoneStats[] = [];
  const orders = snap.maxOrder + 1;
  const blockPages = 2 ** snap.maxOrder;
  for (let z = 0; z < ZONE_COUNT; z++) {
    if (snap.zoneManaged[z]! === 0) continue;
    const s: ZoneStats = {
      zone: z,
      name: ZONE_NAMES[z]!,
      managed: snap.zoneManaged[z]!,
      freeBlocks: new Array<number>(orders).fill(0),
      pcpBlocks: new Array<number>(orders).fill(0),
      freeFrames: 0,
      pcpFrames: 0,
      allocFrames: 0,
      blocksFree: 0,
      blocksFull: 0,
      blocksMixed: 0,
    };
    const meta = snap.meta;
    let blockFree = 0;
    let blockUsed = 0;
    let freeLeft = 0; // frames of the current free (or per-CPU) block still to come
    let allocLeft = 0;
    for (let i = snap.zoneLo[z]!; i < snap.zoneHi[z]!; i++) {
      const m = meta[i]!;
      const st = stateOf(m);
      if (st === FRAME_FREE || st === FRAME_PCP) {
        const n = 2 ** orderOf(m);
        if (st === FRAME_FREE) {
          s.freeBlocks[orderOf(m)]!++;
          s.freeFrames += n;
        } else {
          s.pcpBlocks[orderOf(m)]!++;
          s.pcpFrames += n;
        }
        freeLeft = n;
        allocLeft = 0;
      } else if (st === FRAME_ALLOC) {
        allocLeft = 2 ** orderOf(m);
        freeLeft = 0;
      } else if (st === FRAME_CONTIG_HEAD || st === FRAME_CONTIG_TAIL) {
        allocLeft = 1;
        freeLeft = 0;
      }
      if (st !== FRAME_NONE) {
        if (freeLeft > 0) {
          blockFree++;
          freeLeft--;
        } else if (allocLeft > 0) {
          blockUsed++;
          s.allocFrames++;
          allocLeft--;
        }
      }
      // basePfn is a multiple of the pageblock size, so pageblocks end where i + 1 is a multiple too.
      if (i + 1 === snap.zoneHi[z]! || ((i + 1) & (blockPages - 1)) === 0) {
        if (blockFree > 0 && blockUsed === 0) s.blocksFree++;
        else if (blockUsed > 0 && blockFree === 0) s.blocksFull++;
        else if (blockUsed > 0) s.blocksMixed++;
        blockFree = blockUsed = 0;
      }
    }
    out.push(s);
  }
  return out;
}

/** Run-length encodes the state bytes as (byte, varint run) pairs, base64. */
export function encodeMeta(meta: Uint8Array): string {
  const bytes: number[] = [];
  for (let i = 0; i < meta.length; ) {
    const v = meta[i]!;
    let j = i + 1;
    while (j < meta.length && meta[j] === v) j++;
    bytes.push(v);
    for (let run = j - i; ; run = Math.floor(run / 128)) {
      if (run < 128) {
        bytes.push(run);
        break;
      }
      bytes.push((run & 127) | 128);
    }
    i = j;
  }
  let bin = "";
  for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode(...bytes.slice(i, i + 8192));
  return btoa(bin);
}

/** Inverse of encodeMeta; throws on a malformed or wrong-length encoding. */
export function decodeMeta(text: string, frameCount: number): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(frameCount);
  let at = 0;
  for (let p = 0; p < bin.length; ) {
    const v = bin.charCodeAt(p++);
    let run = 0;
    for (let shift = 1; ; shift *= 128) {
      if (p >= bin.length) throw new Error("decodeMeta: truncated run");
      const b = bin.charCodeAt(p++);
      run += (b & 127) * shift;
      if (b < 128) break;
    }
    if (at + run > frameCount) throw new Error(`decodeMeta: runs cover more than ${frameCount} frames`);
    out.fill(v, at, at + run);
    at += run;
  }
  if (at !== frameCount) throw new Error(`decodeMeta: runs cover ${at} of ${frameCount} frames`);
  return out;
}
