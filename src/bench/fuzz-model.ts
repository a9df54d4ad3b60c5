// The port fuzzer's reference model (src/bench/fuzz.ts drives it): an independent, deliberately plain
// rendering of docs/protocol.md that says, for any registers and guest memory, which status a call
// must get, and which frames the guest holds. It shares no code with the bridge or the allocator:
// its memory-map rules, free statuses and limits are written again from the document, so a drift in
// either shows up as a disagreement. Arrays are per frame; nothing here is on a hot path of buddy86.

import { PAGE_SIZE } from "../mem/constants.js";

export const OK = 0;
export const ENOMEM = 1;
export const EINVAL = 2;
export const EFAULT = 3;
export const EDOUBLEFREE = 4;
export const EBADORDER = 5;
export const ENOTHEAD = 6;
export const ENOSYS = 7;
export const ESTATE = 8;
export const EVERSION = 9;
/** predict*() result when the status depends on the allocator's choice (OK or ENOMEM). */
export const EITHER = -1;

const VGA_START = 0xa0000;
const VGA_END = 0xc0000;
const HOLE_END = 0x100000;
const DMA_END_PFN = 0x1000;
const NORMAL_END_PFN = 0x38000;
const PFN_LIMIT = 1 << 20;

/** The doc's "inside guest RAM": [addr, addr + len) below the RAM size and clear of the VGA window. */
export function insideRam(addr: number, len: number, ramBytes: number): boolean {
  const end = addr + len;
  return end <= ramBytes && (end <= VGA_START || addr >= VGA_END);
}

export function gfpOk(gfp: number): boolean {
  return (gfp & ~0x103) === 0 && (gfp & 3) !== 3;
}

export function zoneOfPfn(pfn: number): number {
  return pfn < DMA_END_PFN ? 0 : pfn < NORMAL_END_PFN ? 1 : 2;
}

/** Zones a gfp may take from, in the doc's fallback order. */
export function zonesFor(gfp: number): number[] {
  return (gfp & 1) !== 0 ? [0] : (gfp & 2) !== 0 ? [2, 1, 0] : [1, 0];
}

function u32(dv: DataView, p: number): number {
  return dv.getUint32(p, true);
}

/** What MEMMAP must answer for the structures in RAM, per the doc's steps 2-8 (1 is the caller's). */
export function expectedMemmap(
  ram: Uint8Array,
  info: number,
  imageStart: number,
  imageEnd: number,
  reservations: readonly [number, number][],
): { status: number; managed: Uint8Array | null } {
  const ramBytes = ram.length;
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  if (imageEnd < imageStart) return { status: EINVAL, managed: null };
  if (!insideRam(info, 116, ramBytes)) return { status: EFAULT, managed: null };
  const flags = u32(dv, info);
  if ((flags & 0x40) === 0) return { status: EINVAL, managed: null };
  let einval = false;
  let efault = false;
  const mmapLength = u32(dv, info + 44);
  const mmapAddr = u32(dv, info + 48);
  const ranges: [number, number][] = [];
  /** Entries of any other type: never RAM, even where a type-1 entry overlaps them. */
  const firmware: [number, number][] = [];
  if (!insideRam(mmapAddr, mmapLength, ramBytes)) efault = true;
  else {
    for (let off = 0, count = 0; off < mmapLength; ) {
      if (off + 4 > mmapLength) {
        einval = true;
        break;
      }
      const size = u32(dv, mmapAddr + off);
      if (size < 20 || off + 4 + size > mmapLength || ++count > 128) {
        einval = true;
        break;
      }
      const p = mmapAddr + off + 4;
      const type = u32(dv, p + 16);
      (type === 1 ? ranges : firmware).push([u32(dv, p) + u32(dv, p + 4) * 2 ** 32, u32(dv, p + 8) + u32(dv, p + 12) * 2 ** 32]);
      off += 4 + size;
    }
  }
  let cmdlineBytes = 0;
  const cmdline = u32(dv, info + 16);
  if ((flags & 4) !== 0) {
    let nul = -1;
    for (let i = 0; i < 4096 && cmdline + i < ramBytes; i++) {
      if (ram[cmdline + i] === 0) {
        nul = i;
        break;
      }
    }
    if (nul >= 0 && insideRam(cmdline, nul + 1, ramBytes)) cmdlineBytes = nul + 1;
    else if (nul < 0 && insideRam(cmdline, 4096, ramBytes)) einval = true;
    else efault = true;
  }
  if (einval) return { status: EINVAL, managed: null };
  if (efault) return { status: EFAULT, managed: null };

  const frames = Math.floor(ramBytes / PAGE_SIZE);
  const managed = new Uint8Array(frames);
  // Type-1 entries clipped to RAM and merged, then rounded inward: the frames wholly inside the union.
  const clipped = ranges.map(([base, length]) => [Math.min(base, ramBytes), Math.min(base + length, ramBytes)] as const).filter(([a, b]) => b > a);
  clipped.sort((x, y) => x[0] - y[0]);
  for (let i = 0; i < clipped.length; ) {
    let [from, to] = clipped[i]!;
    for (i++; i < clipped.length && clipped[i]![0] <= to; i++) to = Math.max(to, clipped[i]![1]);
    for (let f = Math.ceil(from / PAGE_SIZE); f < Math.floor(to / PAGE_SIZE); f++) managed[f] = 1;
  }
  const out = (base: number, len: number): void => {
    if (len <= 0) return;
    for (let f = Math.floor(base / PAGE_SIZE); f < Math.ceil((base + len) / PAGE_SIZE) && f < frames; f++) managed[f] = 0;
  };
  for (const [base, length] of firmware) if (base < ramBytes) out(base, Math.min(base + length, ramBytes) - base);
  out(0, PAGE_SIZE);
  out(VGA_START, HOLE_END - VGA_START);
  out(info, 116);
  out(mmapAddr, mmapLength);
  out(cmdline, cmdlineBytes);
  out(imageStart, imageEnd - imageStart);
  for (const [base, len] of reservations) out(base, len);
  // A map that leaves no frame is OK too: an allocator of nothing (PROTOCOL.md names no error for it).
  return { status: OK, managed };
}

/** The status of a MARK with the label at addr, from RAM alone. */
export function expectedMark(ram: Uint8Array, addr: number): number {
  let nul = -1;
  for (let i = 0; i < 64 && addr + i < ram.length; i++) {
    if (ram[addr + i] === 0) {
      nul = i;
      break;
    }
  }
  if (nul >= 0 && insideRam(addr, nul + 1, ram.length)) return OK;
  return nul < 0 && insideRam(addr, 64, ram.length) ? EINVAL : EFAULT;
}

/**
 * What the guest holds, frame by frame: owner[pfn] is the first pfn of the block covering it (-1
 * when free or unmanaged), with the block's size and kind kept at its head.
 */
export class HeldModel {
  readonly owner: Int32Array;
  readonly pages: Int32Array;
  /** At the head: the order of an ALLOC_PAGES block, -1 for an ALLOC_CONTIG range. */
  readonly order: Int8Array;
  /** Heads of held blocks, for picking targets; swap-removed. */
  readonly heads: number[] = [];
  private readonly slot: Int32Array;
  heldFrames = 0;

  constructor(
    readonly managed: Uint8Array,
    readonly maxOrder: number,
  ) {
    const n = managed.length;
    this.owner = new Int32Array(n).fill(-1);
    this.pages = new Int32Array(n);
    this.order = new Int8Array(n);
    this.slot = new Int32Array(n).fill(-1);
  }

  managedCount(): number {
    let n = 0;
    for (let i = 0; i < this.managed.length; i++) n += this.managed[i]!;
    return n;
  }

  /** The status FREE_PAGES(addr, order) must get. */
  freePages(addr: number, order: number): number {
    if (order > this.maxOrder) return EINVAL;
    const pfn = this.pfnOf(addr);
    if (pfn < 0) return EFAULT;
    const head = this.owner[pfn]!;
    if (head < 0) return EDOUBLEFREE;
    if (head !== pfn) return ENOTHEAD;
    return this.order[head] !== order ? EBADORDER : OK;
  }

  /** The status FREE_CONTIG(addr, npages) must get. */
  freeContig(addr: number, npages: number): number {
    if (npages === 0) return EINVAL;
    const pfn = this.pfnOf(addr);
    if (pfn < 0) return EFAULT;
    const head = this.owner[pfn]!;
    if (head < 0) return EDOUBLEFREE;
    if (head !== pfn) return ENOTHEAD;
    return this.order[head] !== -1 || this.pages[head] !== npages ? EBADORDER : OK;
  }

  /**
   * Checks a block the host handed out (aligned, managed, not held, inside one allowed zone) and
   * records it. Returns a complaint, or null.
   */
  take(addr: number, pages: number, order: number, gfp: number, alignPages: number): string | null {
    if (addr % PAGE_SIZE !== 0) return `block 0x${addr.toString(16)} is not page aligned`;
    const pfn = addr / PAGE_SIZE;
    if (pfn % alignPages !== 0) return `block 0x${addr.toString(16)} is not aligned to ${alignPages} frames`;
    if (pfn + pages > this.managed.length) return `block 0x${addr.toString(16)} + ${pages} frames leaves RAM`;
    const zone = zoneOfPfn(pfn);
    if (zoneOfPfn(pfn + pages - 1) !== zone) return `block at pfn 0x${pfn.toString(16)} crosses a zone`;
    if (!zonesFor(gfp).includes(zone)) return `block in zone ${zone} for gfp 0x${gfp.toString(16)}`;
    for (let f = pfn; f < pfn + pages; f++) {
      if (this.managed[f] !== 1) return `frame 0x${f.toString(16)} handed out is not managed (reserved or a hole)`;
      if (this.owner[f]! >= 0) return `frame 0x${f.toString(16)} handed out twice (held in the block at 0x${this.owner[f]!.toString(16)})`;
    }
    this.owner.fill(pfn, pfn, pfn + pages);
    this.pages[pfn] = pages;
    this.order[pfn] = order;
    this.slot[pfn] = this.heads.length;
    this.heads.push(pfn);
    this.heldFrames += pages;
    return null;
  }

  /** Forgets the held block at head pfn (a free the host accepted). */
  release(pfn: number): void {
    const pages = this.pages[pfn]!;
    this.owner.fill(-1, pfn, pfn + pages);
    const i = this.slot[pfn]!;
    const last = this.heads.pop()!;
    if (last !== pfn) {
      this.heads[i] = last;
      this.slot[last] = i;
    }
    this.slot[pfn] = -1;
    this.heldFrames -= pages;
  }

  /**
   * True when some aligned run of npages frames that are managed and not held lies inside one of
   * the zones gfp allows (so an ENOMEM for ALLOC_CONTIG would be wrong).
   */
  contigFits(npages: number, alignPages: number, gfp: number): boolean {
    const n = this.managed.length;
    const zoneStart = [0, DMA_END_PFN, NORMAL_END_PFN];
    const zoneEnd = [DMA_END_PFN, NORMAL_END_PFN, PFN_LIMIT];
    for (const z of zonesFor(gfp)) {
      let run = 0;
      const lo = zoneStart[z]!;
      const hi = Math.min(zoneEnd[z]!, n);
      for (let f = lo; f < hi; f++) {
        run = this.managed[f] === 1 && this.owner[f]! < 0 ? run + 1 : 0;
        if (run >= npages && (f - npages + 1) % alignPages === 0) return true;
      }
    }
    return false;
  }

  private pfnOf(addr: number): number {
    if (addr % PAGE_SIZE !== 0) return -1;
    const pfn = addr / PAGE_SIZE;
    return pfn < this.managed.length && this.managed[pfn] === 1 ? pfn : -1;
  }
}
