// BuddyAllocator: the public face of the allocator. It validates every request (callers are untrusted
// guests), keeps the ABI's status precedence, and layers alloc_pages_exact, alloc_contig, reports,
// invariant checks and snapshots over the engine in core.ts. The try* methods return statuses and never
// throw for bad input: they are what the hypercall bridge calls. The plain methods throw BuddyError.

import {
  DEFAULT_MAX_ORDER,
  GFP,
  GFP_ZONE_MASK,
  LIST_STRIDE,
  MAX_MAX_ORDER,
  PAGE_SHIFT,
  PAGE_SIZE,
  PCP_DEFAULT_BATCH,
  PCP_DEFAULT_HIGH,
  PFN_LIMIT,
  ZONE_COUNT,
  ZONE_NAMES,
  gfpIsValid,
} from "./constants.js";
import { findContigRun, releaseContigRun, takeContigRun } from "./contig.js";
import type { PcpOptions } from "./hooks.js";
import { PerCpuCore } from "./pcp.js";
import { ALLOC_TAG, CONTIG_HEAD_TAG, FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_PCP } from "./constants.js";
import { BuddyError, EBADORDER, EDOUBLEFREE, EFAULT, EINVAL, ENOTHEAD, OK, hex, invariant } from "./errors.js";
import { checkInvariants } from "./invariants.js";
import type { MemoryMap } from "./memory-map.js";
import { buddyinfoText, extfragIndexText, presentZones, unusableIndexText, zoneFreeBlocks } from "./reports.js";
import { restoreState, snapshotState, type BuddyState } from "./state.js";

export interface BuddyOptions {
  /** The largest order, inclusive: 0..18, default 10 (4 MiB blocks). */
  maxOrder?: number;
  /** Per-CPU cache in frames per zone; default Linux's { high: 378, batch: 63 }; false for a pure buddy. */
  pcp?: PcpOptions;
  /** Guest RAM (byte 0 = physical address 0), zeroed for GFP_ZERO; must cover every managed frame. */
  memory?: Uint8Array;
}

export interface ContigOptions {
  /** The first pfn is a multiple of this power of two (default 1). */
  alignPages?: number;
  /** The range does not cross a multiple of this power of two in pfns (default 0: no boundary). */
  boundaryPages?: number;
  /** The range lies in [lowAddr, highAddr) (defaults: all of memory). */
  lowAddr?: number;
  highAddr?: number;
  gfp?: number;
}

/** One present zone, as zones() reports it. */
export interface ZoneInfo {
  name: string;
  /** Span of the zone's managed frames, [startPfn, endPfn). */
  startPfn: number;
  endPfn: number;
  managed: number;
  /** Frames on the buddy free lists (Linux NR_FREE_PAGES); the per-CPU cache's are pcpFrames(). */
  free: number;
  /** Free blocks per order on the buddy lists: a buddyinfo row. */
  freeBlocks: number[];
}

export class BuddyAllocator extends PerCpuCore {
  /** zoneSpans(), once computed. */
  private spans: Int32Array | null = null;

  /** Builds the free lists from the map's managed frames. Throws BuddyError EINVAL for bad options. */
  constructor(map: MemoryMap, options: BuddyOptions = {}) {
    const maxOrder = options.maxOrder ?? DEFAULT_MAX_ORDER;
    if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > MAX_MAX_ORDER)
      throw new BuddyError("EINVAL", `BuddyAllocator: maxOrder ${maxOrder} is not in 0..${MAX_MAX_ORDER}`);
    const pcp = options.pcp ?? { high: PCP_DEFAULT_HIGH, batch: PCP_DEFAULT_BATCH };
    if (pcp !== false && !(Number.isInteger(pcp.batch) && Number.isInteger(pcp.high) && pcp.batch >= 1 && pcp.high >= pcp.batch))
      throw new BuddyError("EINVAL", `BuddyAllocator: pcp needs integers 1 <= batch <= high, got ${JSON.stringify(pcp)}`);
    const managed = map.managedPfnRanges();
    super(managed, maxOrder, pcp);
    if (options.memory !== undefined) this.setMemory(options.memory);
  }

  /** Attaches (or replaces) the guest RAM view. Throws when it does not cover every managed frame. */
  setMemory(view: Uint8Array): void {
    const need = (this.basePfn + this.frameCount) * PAGE_SIZE;
    if (view.length < need) throw new Error(`setMemory: the view has ${hex(view.length)} bytes, managed memory ends at ${hex(need)}`);
    this.memory = view;
  }

  /** Free frames in all zones, including the per-CPU cache. */
  get freePageCount(): number {
    return this.zoneFreeFrames(0) + this.zoneFreeFrames(1) + this.zoneFreeFrames(2) + this.pcpTotal();
  }

  get zoneCount(): number {
    return presentZones(this).length;
  }

  /**
   * Allocates 2^order frames aligned to their size. Returns the block's address (> 0), 0 for ENOMEM,
   * or -EINVAL for a bad order or gfp. Never throws for bad input; changes nothing on EINVAL.
   */
  tryAllocPages(order: number, gfp: number): number {
    // Fast path: gfp exactly KERNEL, DMA or HIGHMEM, a valid order, no hooks. A cached order pops the
    // per-CPU list of the zone list's first zone (Linux rmqueue_pcplist); any other order takes the
    // buddy lists, zone by zone as allocBlock does. Validation of anything else, refills, per-CPU
    // fallbacks, drains and failures are the slow path's. The gfp test (a non-integer or any other
    // bit fails its first half) is two integer compares in V8's code. `(order & 31) === order` takes
    // integers 0..31; an order above maxOrder finds no list (no zone's bitmap has its bit), and while
    // a hook is attached the fast paths' zone lists are empty (see fastFrameCount), so either goes to
    // the slow path. A test of order against a field (maxOrder, or -1 while hooked) cost a load, a
    // compare and a branch per call (with the free's bound the same way: W3 pure 199.5 -> 197.4,
    // W1b pcp 103.5 -> 101.1 instructions per call, callgrind).
    // Both fast paths are shaped by V8's inlining budget (docs/architecture.md, Performance): a
    // caller's optimised code carries a callee in line only while the bytes carried so far plus 1.2
    // times the callee's bytecode and what its own optimised code carries fit 920, and never a callee
    // of over 460 bytes. So each fast path is a small front (this one 125 bytes, tryFreePages 184) that
    // calls its per-CPU or its buddy half; a call never made is never carried, so a caller pays only
    // for the halves its allocator runs. W3's loop carries this front, takeFromZonelist and takeHead,
    // tryFreePages, pushOrMerge and pushFree (`node --trace-turbo-inlining` lists them): W3 pure
    // 296 -> 250 instructions per call, where a free was a call.
    // With the halves written into one function per path, W1's loop carried only the free (W1b pcp
    // 111 -> 141). The rare work stays out of line: the split (expand) and every merge (freeOne).
    const plainGfp = (gfp & GFP_ZONE_MASK) === gfp && gfp !== GFP_ZONE_MASK;
    if (plainGfp && (order & 31) === order) {
      // `order > pcpMaxOrder` with the buddy arm first, here and in tryFreePages: written as
      // `order <= pcpMaxOrder`, V8 loaded the field tagged, kept it on the stack and untagged it
      // (3 instructions where one load does): W3 pure 201.6 -> 200.5 instructions per call.
      const idx = order > this.pcpMaxOrder ? this.takeFromZonelist(order, gfp) : this.pcpPopFirst(order, gfp);
      if (idx >= 0) {
        this.meta[idx] = ALLOC_TAG | order;
        // A pfn is below 2^20, so `| 0` changes nothing and spares V8 an overflow check of the sum.
        return ((idx + this.basePfn) | 0) * PAGE_SIZE;
      }
    }
    return this.allocPagesSlow(order, gfp);
  }

  /**
   * Every allocation the fast path does not serve: bad arguments (-EINVAL), hooks, refills, other
   * zones, a drain, GFP_ZERO.
   */
  private allocPagesSlow(order: number, gfp: number): number {
    if (order >>> 0 !== order || order > this.maxOrder || !gfpIsValid(gfp)) return -EINVAL;
    const failPredicate = this.failPredicate;
    if (failPredicate !== null && failPredicate(order, 2 ** order, gfp)) return this.failed(order, gfp, true);
    let idx = this.allocBlock(order, gfp & 3);
    if (idx < 0 && this.pcpTotal() > 0) {
      this.drainAll();
      idx = this.allocBlock(order, gfp & 3);
    }
    if (idx < 0) return this.failed(order, gfp, false);
    const addr = (idx + this.basePfn) * PAGE_SIZE;
    // The listener runs before GFP_ZERO clears the block, so a checker (src/debug/poison.ts) sees
    // the bytes the block held while it was free.
    if (this.tellsPageRequests) this.listener!.alloc(idx + this.basePfn, order, this.zoneOf(idx), gfp);
    if ((gfp & GFP.ZERO) !== 0 && this.memory !== null) this.memory.fill(0, addr, addr + (PAGE_SIZE << order));
    return addr;
  }

  private failed(order: number, gfp: number, injected: boolean): 0 {
    if (this.listener !== null) this.listener.fail(order, gfp, injected);
    return 0;
  }

  /**
   * Frees a block from tryAllocPages. Returns OK or the status of the first problem in the ABI's
   * precedence: EINVAL (order), EFAULT (address), then the frame's state decides (EDOUBLEFREE,
   * ENOTHEAD, EBADORDER). A rejected free changes nothing.
   */
  tryFreePages(addr: number, order: number): number {
    // Fast path: the head of an allocated block of exactly this order, no hooks. One test does most of
    // the validation: meta ^ ALLOC_TAG is the recorded order for an ALLOC head and 32 or more for any
    // other state, so with order < 32 it matches only an ALLOC head of this order (at most maxOrder),
    // and never a non-integer. The hooks are in the bound on idx: fastFrameCount is frameCount, or 0
    // while a hook is attached (see fastFrameCount; a test of order against a field holding maxOrder
    // or -1 cost a field's load where `order < 32` compares with a constant). `pfn << PAGE_SHIFT ===
    // addr` with addr >= 0 takes page-aligned integers below 2 GiB (the int32 range, where V8
    // compares integers; the float compare of `addr < 2 ** 32` cost instructions on every free);
    // everything else, including frames at 2 GiB and above, goes to the slow path, which validates in
    // the ABI's precedence. zoneOf is written out (one call fewer to fit the inlining budget, see
    // tryAllocPages). idx is tested as unsigned (both sides `>>> 0`, so V8 compares integers, not
    // doubles): one compare and branch for idx >= 0 and idx < fastFrameCount.
    const pfn = addr >>> PAGE_SHIFT;
    const idx = (pfn - this.basePfn) | 0;
    if (
      pfn << PAGE_SHIFT === addr && addr >= 0 && idx >>> 0 < this.fastFrameCount >>> 0 &&
      (this.meta[idx]! ^ ALLOC_TAG) === order && order < 32
    ) {
      // HighMem first: one compare for its frees, which W3 and W1b (GFP_HIGHMEM, whose zone list
      // starts there) make nearly all, two for Normal's as before, and two for DMA's, the rarest.
      // With clz ^ 31 in takeFromZonelist: W3 pure 208.0 -> 201.6 instructions per call (callgrind).
      const zone = idx >= this.normalEndIdx ? 2 : idx >= this.dmaEndIdx ? 1 : 0;
      if (order > this.pcpMaxOrder) this.pushOrMerge(idx, order, zone);
      else this.pcpPut(idx, order, zone);
      return OK;
    }
    return this.freePagesSlow(addr, order);
  }

  /**
   * Frees the fast path left, checked in the ABI's precedence: bad orders and addresses, unmanaged or
   * mismatching frames (statuses), frames at 2 GiB and above, and hooked allocators.
   */
  private freePagesSlow(addr: number, order: number): number {
    if (order >>> 0 !== order || order > this.maxOrder) return EINVAL;
    const idx = this.frameIndex(addr);
    if (idx < 0) return EFAULT;
    if (this.meta[idx] !== (ALLOC_TAG | order)) return this.badFree(idx, false, order);
    const zone = this.zoneOf(idx);
    if (this.tellsPageRequests) this.listener!.free(idx + this.basePfn, order, zone);
    if (order <= this.pcpMaxOrder) this.pcpPut(idx, order, zone);
    else this.freeOne(idx, order, zone);
    return OK;
  }

  /** The frame index of a page-aligned address of a managed frame, or -1 (EFAULT). */
  private frameIndex(addr: number): number {
    if (addr >>> 0 !== addr || (addr & (PAGE_SIZE - 1)) !== 0) return -1;
    const idx = (addr >>> PAGE_SHIFT) - this.basePfn;
    if (idx < 0 || idx >= this.frameCount || this.meta[idx] === 0) return -1;
    return idx;
  }

  /**
   * The status for freeing idx when it is not the head of the block the caller claims: the frame's
   * state decides. `contig` says which family the caller freed through; size is its order or npages.
   */
  private badFree(idx: number, contig: boolean, size: number): number {
    const s = this.stateAt(idx);
    if (s === FRAME_FREE || s === FRAME_PCP) return EDOUBLEFREE;
    if (s === FRAME_ALLOC) return contig || this.orderAt(idx) !== size ? EBADORDER : OK;
    if (s === FRAME_CONTIG_HEAD) return contig && this.link[2 * idx + 1] === size ? OK : EBADORDER;
    if (s === FRAME_CONTIG_TAIL) return ENOTHEAD;
    const head = this.findHead(idx);
    invariant(head >= 0, `badFree: managed pfn ${hex(idx + this.basePfn)} lies in no block`);
    return this.stateAt(head) === FRAME_ALLOC ? ENOTHEAD : EDOUBLEFREE;
  }

  /** alloc_pages: the address of 2^order frames, or 0 when nothing fits. Throws BuddyError EINVAL. */
  allocPages(order: number, gfp: number = GFP.KERNEL): number {
    const addr = this.tryAllocPages(order, gfp);
    if (addr < 0) throw BuddyError.fromStatus(-addr, `allocPages(order ${order}, gfp ${hex(gfp)})`);
    return addr;
  }

  /** free_pages: throws BuddyError for an invalid free, changing nothing. */
  freePages(addr: number, order: number): void {
    const status = this.tryFreePages(addr, order);
    if (status !== OK) throw BuddyError.fromStatus(status, `freePages(${hex(addr)}, order ${order})`);
  }

  /** get_free_page: one frame, or 0. */
  getFreePage(gfp: number = GFP.KERNEL): number {
    return this.allocPages(0, gfp);
  }

  /** get_zeroed_page: one zeroed frame, or 0. */
  getZeroedPage(gfp: number = GFP.KERNEL): number {
    return this.allocPages(0, gfp | GFP.ZERO);
  }

  /** free_page. */
  freePage(addr: number): void {
    this.freePages(addr, 0);
  }

  /**
   * alloc_pages_exact: npages frames (1..2^maxOrder) from a block of the next power of two, whose unused
   * tail goes straight back to the buddy lists. Like Linux's split_page, each frame is then its own
   * order-0 allocation. Returns the address or 0; throws BuddyError EINVAL.
   */
  allocPagesExact(npages: number, gfp: number = GFP.KERNEL): number {
    if (!Number.isInteger(npages) || npages < 1 || npages > 2 ** this.maxOrder)
      throw new BuddyError("EINVAL", `allocPagesExact: npages ${npages} is not in 1..${2 ** this.maxOrder}`);
    const order = 32 - Math.clz32(npages - 1);
    const addr = this.allocPages(order, gfp);
    if (addr === 0) return 0;
    const idx = addr / PAGE_SIZE - this.basePfn;
    const zone = this.zoneOf(idx);
    this.meta.fill(ALLOC_TAG, idx, idx + npages);
    for (let start = idx + npages, end = idx + (1 << order); start < end; ) {
      const piece = this.largestFit(start, end);
      // Part of a page request (alloc_pages_exact): told as its allocation was (reportsPageRequests).
      if (this.tellsPageRequests) this.listener!.free(start + this.basePfn, piece, zone);
      this.freeOne(start, piece, zone);
      start += 1 << piece;
    }
    return addr;
  }

  /**
   * free_pages_exact: frees npages order-0 frames; checks them all first, so a bad call changes
   * nothing. The ABI's precedence holds across the range: an address problem (EFAULT) anywhere in it
   * comes before any frame's state.
   */
  freePagesExact(addr: number, npages: number): void {
    if (!Number.isInteger(npages) || npages < 1 || npages > PFN_LIMIT)
      throw new BuddyError("EINVAL", `freePagesExact: npages ${npages}`);
    const where = (a: number): string => `freePagesExact(${hex(addr)}, ${npages}) at ${hex(a)}`;
    for (let i = 0; i < npages; i++) if (this.frameIndex(addr + i * PAGE_SIZE) < 0) throw BuddyError.fromStatus(EFAULT, where(addr + i * PAGE_SIZE));
    for (let i = 0; i < npages; i++) {
      const a = addr + i * PAGE_SIZE;
      const idx = this.frameIndex(a);
      const status = this.meta[idx] === ALLOC_TAG ? OK : this.badFree(idx, false, 0);
      if (status !== OK) throw BuddyError.fromStatus(status, where(a));
    }
    for (let i = 0; i < npages; i++) this.freePages(addr + i * PAGE_SIZE, 0);
  }

  /**
   * alloc_contig (FreeBSD vm_phys_alloc_contig): exactly npages contiguous frames inside one zone, the
   * lowest run that meets the options, possibly longer than a max-order block. Returns the address,
   * 0 when no run exists (ENOMEM), or -EINVAL for bad arguments. Never throws for bad input.
   */
  tryAllocContig(npages: number, alignPages: number, gfp: number, opts: ContigOptions = {}): number {
    const boundary = opts.boundaryPages ?? 0;
    const low = opts.lowAddr ?? 0;
    const high = opts.highAddr ?? 2 ** 32;
    if (alignPages === 0) alignPages = 1;
    const ok =
      npages >>> 0 === npages && npages >= 1 && isPowerOfTwo(alignPages) &&
      (boundary === 0 || (isPowerOfTwo(boundary) && boundary >= npages)) &&
      Number.isInteger(low) && Number.isInteger(high) && low >= 0 && low <= high && gfpIsValid(gfp);
    if (!ok) return -EINVAL;
    if (this.failPredicate !== null && this.failPredicate(-1, npages, gfp)) return this.failed(-npages, gfp, true);
    // Any u32 npages is a valid request (the ABI's EINVAL is for npages 0); one longer than all
    // managed memory fits nowhere.
    if (npages > this.frameCount) return this.failed(-npages, gfp, false);
    const lowIdx = Math.ceil(low / PAGE_SIZE) - this.basePfn;
    const highIdx = Math.floor(high / PAGE_SIZE) - this.basePfn;
    for (let attempt = 0; attempt < 2; attempt++) {
      for (let slot = (gfp & 3) * 4; this.zonelist[slot]! >= 0; slot++) {
        const zone = this.zonelist[slot]!;
        const window = {
          lo: Math.max(this.zoneLo[zone]!, lowIdx),
          hi: Math.min(this.zoneHi[zone]!, highIdx),
          alignPages,
          boundaryPages: boundary,
        };
        if (window.lo >= window.hi) continue;
        const start = findContigRun(this, npages, window);
        if (start < 0) continue;
        takeContigRun(this, start, npages, zone);
        const addr = this.addrOf(start);
        if (this.listener !== null) this.listener.allocContig(start + this.basePfn, npages, zone, gfp);
        if ((gfp & GFP.ZERO) !== 0 && this.memory !== null) this.memory.fill(0, addr, addr + npages * PAGE_SIZE);
        return addr;
      }
      if (this.pcpTotal() === 0) break;
      this.drainAll();
    }
    return this.failed(-npages, gfp, false);
  }

  /** Frees a contig range; statuses as tryFreePages, EBADORDER for another npages or an alloc_pages block. */
  tryFreeContig(addr: number, npages: number): number {
    // Any u32 npages but 0 is valid: the frame's state decides (a contig head of another length is EBADORDER).
    if (npages >>> 0 !== npages || npages < 1) return EINVAL;
    const idx = this.frameIndex(addr);
    if (idx < 0) return EFAULT;
    if (this.meta[idx] !== CONTIG_HEAD_TAG || this.link[2 * idx + 1] !== npages) return this.badFree(idx, true, npages);
    const zone = this.zoneOf(idx);
    if (this.listener !== null) this.listener.freeContig(idx + this.basePfn, npages, zone);
    releaseContigRun(this, idx, npages, zone);
    return OK;
  }

  /** allocContig with options; returns the address or 0, throws BuddyError EINVAL. */
  allocContig(npages: number, opts: ContigOptions = {}): number {
    const addr = this.tryAllocContig(npages, opts.alignPages ?? 1, opts.gfp ?? GFP.KERNEL, opts);
    if (addr < 0) throw BuddyError.fromStatus(-addr, `allocContig(${npages}, ${JSON.stringify(opts)})`);
    return addr;
  }

  /** Frees an allocContig range; throws BuddyError for an invalid free. */
  freeContig(addr: number, npages: number): void {
    const status = this.tryFreeContig(addr, npages);
    if (status !== OK) throw BuddyError.fromStatus(status, `freeContig(${hex(addr)}, ${npages})`);
  }

  /** Empties the per-CPU cache into the buddy lists. */
  drain(): void {
    this.drainAll();
  }

  /** Free blocks of `order` on the buddy lists, summed over zones (0 for an order above max). */
  freeBlockCount(order: number): number {
    if (order > this.maxOrder) return 0;
    return this.nrFree[order]! + this.nrFree[LIST_STRIDE + order]! + this.nrFree[2 * LIST_STRIDE + order]!;
  }

  /** True when the frame at pfn is managed (usable RAM, not reserved, not frame 0). */
  isManagedPfn(pfn: number): boolean {
    const idx = pfn - this.basePfn;
    return Number.isInteger(idx) && idx >= 0 && idx < this.frameCount && this.meta[idx] !== 0;
  }

  /**
   * The present zones with their spans and free lists: exactly issue 2's fields, { name, startPfn,
   * endPfn, managed, free, freeBlocks }. The frames the per-CPU cache holds are pcpFrames().
   */
  zones(): ZoneInfo[] {
    const spans = this.zoneSpans();
    return presentZones(this).map((z) => ({
      name: ZONE_NAMES[z]!,
      startPfn: spans[2 * z]! + this.basePfn,
      endPfn: spans[2 * z + 1]! + this.basePfn,
      managed: this.zoneManaged[z]!,
      free: this.zoneFreeFrames(z),
      freeBlocks: zoneFreeBlocks(this, z),
    }));
  }

  /** Per present zone, in zones()' order, the frames held by the per-CPU cache (0 with pcp off). */
  pcpFrames(): number[] {
    return presentZones(this).map((z) => this.pcpCount[z]!);
  }

  /**
   * Per zone, [first, last + 1) of its managed frames (as frame indices), found by one scan on first
   * use: which frames are managed never changes after construction, and zones() runs once per display
   * frame on the web page (the scan cost 80 us there at 128 MiB, measured).
   */
  private zoneSpans(): Int32Array {
    if (this.spans !== null) return this.spans;
    const spans = new Int32Array(2 * ZONE_COUNT).fill(-1);
    for (let z = 0; z < ZONE_COUNT; z++) {
      for (let i = this.zoneLo[z]!; i < this.zoneHi[z]!; i++) {
        if (this.meta[i] === 0) continue;
        if (spans[2 * z]! < 0) spans[2 * z] = i;
        spans[2 * z + 1] = i + 1;
      }
    }
    this.spans = spans;
    return spans;
  }

  /** Exactly /proc/buddyinfo. */
  buddyinfo(): string {
    return buddyinfoText(this);
  }

  /** Exactly debugfs extfrag/unusable_index. */
  unusableIndex(): string {
    return unusableIndexText(this);
  }

  /** Exactly debugfs extfrag/extfrag_index. */
  extfragIndex(): string {
    return extfragIndexText(this);
  }

  /** Walks all metadata; throws Error("invariant: ...") naming what broke. */
  checkInvariants(): void {
    checkInvariants(this);
  }

  /** Host metadata bytes: the per-frame arrays (the links are in lists) plus the per-zone tables. */
  get metadataBytes(): number {
    return this.lists.byteLength + this.meta.byteLength + this.zoneManaged.byteLength + this.zonelist.byteLength;
  }

  /** A copy of every piece of allocator state, for snapshots. */
  getState(): BuddyState {
    return snapshotState(this);
  }

  /** Restores a getState() copy taken from an allocator of the same geometry; throws otherwise. */
  setState(saved: BuddyState): void {
    restoreState(this, saved);
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 2 ** 31 && (n & (n - 1)) === 0;
}
