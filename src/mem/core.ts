// The buddy allocator's engine: per-frame metadata as a struct of typed arrays, per-zone free lists,
// split (Linux `expand`) and merge (Linux `__free_one_page`); the per-CPU page cache's tables live here
// too, its operations in pcp.ts (PerCpuCore), the optional hooks' types in hooks.ts.
// Everything is indexed by frame index `idx = pfn - basePfn`, where basePfn is aligned to a max-order
// block, so the buddy of a block is found by flipping one bit of idx exactly as of pfn.
// Public API, validation and reports are layered on top in buddy.ts; nothing here knows of v86.

import {
  FRAME_ALLOC,
  FRAME_FREE,
  FRAME_PCP,
  FREE_TAG,
  LIST_COUNT,
  LIST_HEAD,
  LIST_SHIFT,
  LIST_STRIDE,
  LINK_BASE,
  ORDER_MASK,
  PAGE_SIZE,
  PCP_MAX_ORDER,
  PCP_ORDER_COUNT,
  STATE_SHIFT,
  TAIL_TAG,
  ZONE_COUNT,
  ZONE_END_PFN,
  ZT_ORDER_MASK,
  ZT_PCP_COUNT,
  ZT_PCP_DRAIN,
  ZT_PCP_HEAD,
  ZT_PCP_TAIL,
  ZT_ZONE_HI,
  ZT_ZONE_LO,
  ZT_ZONELIST,
} from "./constants.js";
import type { BuddyListener, FailPredicate, PcpOptions } from "./hooks.js";
import type { PfnRange } from "./memory-map.js";

export class BuddyCore {
  readonly maxOrder: number;
  /** Orders 0..maxOrder: how many of each zone's LIST_STRIDE free lists are in use. */
  readonly orderCount: number;
  /** First pfn covered by the metadata arrays; a multiple of 2^maxOrder. */
  readonly basePfn: number;
  /** Number of frames the metadata arrays cover. */
  readonly frameCount: number;
  readonly managedPageCount: number;

  /**
   * Every per-zone table at fixed offsets (LIST_HEAD, LIST_COUNT, ZT_* in constants.ts), then from
   * LINK_BASE every frame's links (`link` below is a view of that part). The named per-zone arrays
   * below are views of the tables, for everything that is not a hot path. Why fixed offsets: the hot
   * paths index the tables with literals and the list number (zone << LIST_SHIFT) | order, where
   * offsets and a stride held in fields (the tables once followed the links in one array) cost a
   * load, an untag and an overflow check each, and a multiply (W3 pure 236.0 -> 224.2 instructions
   * per call with the tables in an array of their own). Why the links in the same array, behind the
   * tables: each typed array costs V8 a field load and loads of its length and two data pointers,
   * again after every call it cannot see into, and a link's index `((idx << 1) + LINK_BASE) | 0` is
   * one lea, as `idx << 1` was. So the list operations touch two arrays (lists and meta) and `this`:
   * W3 pure 196.0 -> 187.6, W2 pure 324.3 -> 308.5 instructions per call (callgrind); W1b pcp, whose
   * per-CPU lists use the views, is unchanged at 100.
   */
  readonly lists: Int32Array;

  // Per-frame struct of arrays: 9 bytes per covered frame.
  /**
   * List links (a view of `lists` from LINK_BASE), interleaved so one cache line holds both:
   * link[2*idx] = next head (-1 at the end), link[2*idx + 1] = previous head. On a buddy free list
   * the first block's prev is left as it was (a list's first block is the one its freeHead names; see
   * pushFree for why), on a per-CPU list it is -1. Contig ranges reuse them: every frame's next is
   * the range's head, the head's prev is its npages. The buddy lists' hot paths (takeHead, expand,
   * freeOne, pushFree) reach them through `lists`.
   */
  readonly link: Int32Array;
  /** Per frame: state << STATE_SHIFT | order. */
  readonly meta: Uint8Array;

  // Per zone and order (index zone * LIST_STRIDE + order; orders above maxOrder stay empty).
  readonly freeHead: Int32Array;
  readonly nrFree: Int32Array;
  /** Per zone: bit k set when the order-k free list is non-empty, so finding an order is O(1). */
  readonly orderMask: Int32Array;
  /** Per zone: managed frames. */
  readonly zoneManaged: Int32Array;
  /** Per zone: the idx range [lo, hi) no block may leave. */
  readonly zoneLo: Int32Array;
  readonly zoneHi: Int32Array;
  /**
   * zoneHi[0] and zoneHi[1] as plain fields, for zoneOf on the free fast path: a field is one load,
   * where an element of a typed array view costs a map check, a bounds check and two pointer loads.
   */
  readonly dmaEndIdx: number;
  readonly normalEndIdx: number;
  /** Zone lists by gfp zone bits (0 KERNEL, 1 DMA, 2 HIGHMEM), 4 slots each, -1 terminated. */
  readonly zonelist: Int8Array;

  // Per-CPU cache, per zone and order 0..PCP_MAX_ORDER (index zone * PCP_ORDER_COUNT + order).
  readonly pcpHigh: number;
  readonly pcpBatch: number;
  /** Largest order the cache takes; -1 when the cache is off. */
  readonly pcpMaxOrder: number;
  readonly pcpHead: Int32Array;
  readonly pcpTail: Int32Array;
  /** Per zone: frames held by the cache. */
  readonly pcpCount: Int32Array;
  /** Per zone: where the round-robin drain resumes. */
  readonly pcpDrainIndex: Int32Array;

  /** Guest RAM, for GFP_ZERO; null when no memory is attached. */
  memory: Uint8Array | null = null;
  /**
   * The free fast path's bound on idx: frameCount while no fault predicate and no listener that
   * wants the page requests told is attached, 0 while one is (updateFastPaths). Everything optional
   * is the slow paths', so absent hooks cost the fast paths nothing: they see a hook in tests they
   * make anyway, this bound and the allocation's zones, which come from the copy of the zone lists
   * in `lists` (ZT_ZONELIST), empty while a hook is attached. A test of order against a field
   * (fastMaxOrder, which held maxOrder or -1) cost a load, a compare and a branch per call, and a
   * separate flag before it as much again. A listener whose caller reports the page requests
   * (reportsPageRequests) keeps the fast paths: what they cause beyond the request itself (a split,
   * a merge, a drain) is told from the out-of-line code that does it, as on the slow paths.
   */
  fastFrameCount: number;
  /**
   * True when the listener hears of the page requests' allocs and frees from the allocator: there is
   * a listener and it does not report them itself (BuddyListener.reportsPageRequests).
   */
  tellsPageRequests = false;
  private hookListener: BuddyListener | null = null;
  private hookFailPredicate: FailPredicate | null = null;

  /** The observer of every event, or null. */
  get listener(): BuddyListener | null {
    return this.hookListener;
  }
  set listener(value: BuddyListener | null) {
    this.hookListener = value;
    this.tellsPageRequests = value !== null && value.reportsPageRequests !== true;
    this.updateFastPaths();
  }

  /** Consulted before each allocation when set: true makes it fail with ENOMEM (fault injection). */
  get failPredicate(): FailPredicate | null {
    return this.hookFailPredicate;
  }
  set failPredicate(value: FailPredicate | null) {
    this.hookFailPredicate = value;
    this.updateFastPaths();
  }

  /** True while the fast paths take requests: no hook sends them to the slow paths (see fastFrameCount). */
  get fastPathsOpen(): boolean {
    return !this.tellsPageRequests && this.hookFailPredicate === null;
  }

  /** What the fast paths see of the hooks: fastFrameCount and the zone lists' copy (see fastFrameCount). */
  private updateFastPaths(): void {
    const hooked = !this.fastPathsOpen;
    this.fastFrameCount = hooked ? 0 : this.frameCount;
    for (let slot = 0; slot < this.zonelist.length; slot++) this.lists[ZT_ZONELIST + slot] = hooked ? -1 : this.zonelist[slot]!;
  }

  /**
   * Lays out metadata for the given managed frames and hands every one of them to the free lists as
   * the largest aligned blocks that fit (Linux memblock_free_all). Callers validate their options.
   */
  constructor(managed: readonly PfnRange[], maxOrder: number, pcp: PcpOptions) {
    this.maxOrder = maxOrder;
    this.orderCount = maxOrder + 1;
    const blockPages = 2 ** maxOrder;
    // `| 0` keeps these small integers (not doubles) so the JIT indexes typed arrays with int32 math.
    // No managed frame (a map that leaves nothing, which the ABI's MEMMAP accepts): no zone, no
    // metadata, and every allocation is ENOMEM, every free EFAULT.
    this.basePfn = managed.length === 0 ? 0 : (Math.floor(managed[0]!.startPfn / blockPages) * blockPages) | 0;
    this.frameCount = managed.length === 0 ? 0 : (managed[managed.length - 1]!.endPfn - this.basePfn) | 0;
    const n = this.frameCount;
    this.fastFrameCount = n;
    const count = ZONE_COUNT * LIST_STRIDE;
    const lists = new Int32Array(LINK_BASE + 2 * n);
    this.lists = lists;
    this.link = lists.subarray(LINK_BASE).fill(-1);
    this.meta = new Uint8Array(n);
    this.freeHead = lists.subarray(LIST_HEAD, LIST_HEAD + count).fill(-1);
    this.nrFree = lists.subarray(LIST_COUNT, LIST_COUNT + count);
    this.orderMask = lists.subarray(ZT_ORDER_MASK, ZT_ORDER_MASK + ZONE_COUNT);
    this.zoneManaged = new Int32Array(ZONE_COUNT);
    this.zoneLo = lists.subarray(ZT_ZONE_LO, ZT_ZONE_LO + ZONE_COUNT);
    this.zoneHi = lists.subarray(ZT_ZONE_HI, ZT_ZONE_HI + ZONE_COUNT);
    let lo = 0;
    for (let z = 0; z < ZONE_COUNT; z++) {
      const hi = Math.min(n, Math.max(0, ZONE_END_PFN[z]! - this.basePfn));
      this.zoneLo[z] = Math.min(lo, hi);
      this.zoneHi[z] = hi;
      lo = hi;
    }
    this.dmaEndIdx = this.zoneHi[0]! | 0;
    this.normalEndIdx = this.zoneHi[1]! | 0;
    this.pcpMaxOrder = pcp === false ? -1 : Math.min(PCP_MAX_ORDER, maxOrder);
    this.pcpHigh = pcp === false ? 0 : pcp.high;
    this.pcpBatch = pcp === false ? 0 : pcp.batch;
    this.pcpHead = lists.subarray(ZT_PCP_HEAD, ZT_PCP_HEAD + ZONE_COUNT * PCP_ORDER_COUNT).fill(-1);
    this.pcpTail = lists.subarray(ZT_PCP_TAIL, ZT_PCP_TAIL + ZONE_COUNT * PCP_ORDER_COUNT).fill(-1);
    this.pcpCount = lists.subarray(ZT_PCP_COUNT, ZT_PCP_COUNT + ZONE_COUNT);
    this.pcpDrainIndex = lists.subarray(ZT_PCP_DRAIN, ZT_PCP_DRAIN + ZONE_COUNT);

    // Boot handover. Like Linux (memblock_free_all frees boot memory to the lists' tails), the lists end
    // up in ascending address order, so a fresh allocator hands out low addresses first: blocks are
    // pushed on the list heads from the highest address down.
    let total = 0;
    for (const r of managed) {
      const start = r.startPfn - this.basePfn;
      const end = r.endPfn - this.basePfn;
      this.meta.fill(TAIL_TAG, start, end);
      total += end - start;
      for (let z = 0; z < ZONE_COUNT; z++) {
        const a = Math.max(start, this.zoneLo[z]!);
        const b = Math.min(end, this.zoneHi[z]!);
        if (a < b) this.zoneManaged[z]! += b - a;
      }
    }
    for (let i = managed.length - 1; i >= 0; i--) {
      const start = managed[i]!.startPfn - this.basePfn;
      const end = managed[i]!.endPfn - this.basePfn;
      for (let z = ZONE_COUNT - 1; z >= 0; z--) {
        const a = Math.max(start, this.zoneLo[z]!);
        const b = Math.min(end, this.zoneHi[z]!);
        if (a >= b) continue;
        const blocks: number[] = [];
        for (let idx = a; idx < b; idx += 1 << this.largestFit(idx, b)) blocks.push(idx);
        for (let k = blocks.length - 1; k >= 0; k--) this.pushFree(blocks[k]!, this.largestFit(blocks[k]!, b), z);
      }
    }
    this.managedPageCount = total | 0;
    // Zone lists hold present zones only, in fallback order.
    this.zonelist = new Int8Array(12).fill(-1);
    const fallback = [
      [1, 0],
      [0],
      [2, 1, 0],
    ];
    fallback.forEach((zones, zc) => {
      let slot = zc * 4;
      for (const z of zones) if (this.zoneManaged[z]! > 0) this.zonelist[slot++] = z;
    });
    this.updateFastPaths();
  }

  /**
   * Frames on zone's buddy free lists (Linux NR_FREE_PAGES), summed from the lists' counts. Not kept
   * as a counter: updating one on every allocation and free cost about 15 instructions per call
   * (callgrind, W3 pure 308 -> 292), and only reports, checks and the occasional query read it.
   */
  zoneFreeFrames(zone: number): number {
    // A shift, not `2 ** o`: V8 calls its pow() for a variable exponent, about 100 instructions per
    // order, and the page's timeline sums every zone once per sample. The product is below 2^20.
    let frames = 0;
    for (let o = 0; o < this.orderCount; o++) frames += this.nrFree[zone * LIST_STRIDE + o]! << o;
    return frames;
  }

  /** The zone of a frame index. */
  zoneOf(idx: number): number {
    return idx < this.dmaEndIdx ? 0 : idx < this.normalEndIdx ? 1 : 2;
  }

  /** Physical address of a frame index. */
  addrOf(idx: number): number {
    return (idx + this.basePfn) * PAGE_SIZE;
  }

  /** Takes a free block off its list; the caller sets its new state. */
  delFree(idx: number, order: number, zone: number): void {
    const link = this.link;
    const li = zone * LIST_STRIDE + order;
    const nx = link[2 * idx]!;
    // The list's first block has no prev (see pushFree): its successor becomes the first.
    if (this.freeHead[li] === idx) this.freeHead[li] = nx;
    else {
      const pv = link[2 * idx + 1]!;
      link[2 * pv] = nx;
      if (nx >= 0) link[2 * nx + 1] = pv;
    }
    if (--this.nrFree[li]! === 0) this.orderMask[zone]! &= ~(1 << order);
  }

  /**
   * The allocation fast path's buddy half: a block of exactly `order` from the first zone of zone
   * list zc (gfp & 3) with one large enough, found on each zone's non-empty-order bitmap, as
   * allocBlock does zone by zone. Returns idx, or -1 when no zone has one; the caller sets the
   * head's meta.
   */
  takeFromZonelist(order: number, zc: number): number {
    // The return inside the loop: a test of zone after the loop, as the end of the zone list and as
    // a zone with a block both left the loop, ran on every allocation. With idx tested unsigned in
    // tryFreePages: W3 pure 211.2 -> 208.0 instructions per call (callgrind).
    const lists = this.lists;
    let at = ZT_ZONELIST + (zc << 2);
    for (let zone = lists[at]!; zone >= 0; zone = lists[++at]!) {
      const mask = lists[ZT_ORDER_MASK | zone]! & (-1 << order);
      // The lowest set bit's index: clz ^ 31 is 31 - clz for clz in 0..31, one instruction fewer.
      if (mask !== 0) return this.takeHead(zone, Math.clz32(mask & -mask) ^ 31, order);
    }
    return -1;
  }

  /**
   * Takes a block of exactly `order` from zone's buddy lists: the smallest non-empty order >= the
   * request, split down by expand. Returns idx, or -1 when the zone has no block that large. The
   * caller must set the head's meta.
   */
  rmqueue(zone: number, order: number): number {
    const mask = this.lists[ZT_ORDER_MASK | zone]! & (-1 << order);
    if (mask === 0) return -1;
    return this.takeHead(zone, Math.clz32(mask & -mask) ^ 31, order);
  }

  /**
   * Pops the head of zone's order-`cur` list (cur, the smallest non-empty order >= order) and splits
   * it down to `order`; returns its idx. Its list is empty afterwards exactly when its next is -1, so
   * the bitmap needs no count; the next becomes the list's first block, whose prev nothing reads (see
   * pushFree), so it is not written.
   */
  private takeHead(zone: number, cur: number, order: number): number {
    const lists = this.lists;
    const list = (zone << LIST_SHIFT) | cur;
    const idx = lists[list]!;
    const nx = lists[((idx << 1) + LINK_BASE) | 0]!;
    lists[list] = nx;
    if (nx < 0) lists[ZT_ORDER_MASK | zone]! &= ~(1 << cur);
    lists[list | LIST_COUNT]!--;
    if (cur > order) this.expand(idx, order, cur, zone);
    return idx;
  }

  /**
   * Linux `expand`: the block at idx, just taken from the order-`cur` list, is split down to `order`
   * by handing back its upper halves, largest first. Every list of orders order..cur-1 is empty (cur
   * was the smallest non-empty order >= order), so each half becomes the only block on its list.
   * Kept out of rmqueue and the allocation fast path: it runs for about 6% of W3's allocations, and
   * out of line it leaves the fast path small enough for V8 to carry in line (see tryAllocPages).
   */
  expand(idx: number, order: number, cur: number, zone: number): void {
    const lists = this.lists;
    const meta = this.meta;
    const first = zone << LIST_SHIFT;
    // Bits order..cur-1: the lists the upper halves go to, all empty until now.
    lists[ZT_ORDER_MASK | zone]! |= ((1 << cur) - 1) & (-1 << order);
    // The halves first, the listener after, in the same order (largest first), as freeOne tells its
    // merges: a call in the loop made V8 check the three arrays' maps and reload their pointers in
    // every round. h counts down from a value computed before the loop, not from the parameter cur,
    // so V8 keeps it an untagged int32 (a phi with a parameter was retagged in every round).
    for (let h = cur - 1; h >= order; h--) {
      const half = idx | (1 << h);
      lists[((half << 1) + LINK_BASE) | 0] = -1;
      lists[first | h] = half;
      lists[first | h | LIST_COUNT] = 1;
      meta[half] = FREE_TAG | h;
    }
    if (this.hookListener !== null) this.tellSplits(idx, order, cur, zone);
  }

  /**
   * expand's split events, largest half first: out of expand, whose bytecode V8 counts against W2's
   * inlining budget (with the loop in expand, W2's loop no longer carried the allocation front).
   */
  private tellSplits(idx: number, order: number, cur: number, zone: number): void {
    const listener = this.hookListener!;
    for (let h = cur - 1; h >= order; h--) listener.split(idx + this.basePfn, h, zone);
  }

  /**
   * Returns a block to the buddy lists, merging while the buddy is a free head of the same order in
   * the same zone (Linux `__free_one_page`). Worked example: idx 8, order 1 -> buddy 8 ^ (1 << 1) = 10;
   * if 10 is a free order-1 head they merge into the order-2 block at 8 & 10 = 8.
   * The listener hears of each merge once the block is on its list.
   * One function, with the unlink of each merged buddy and the final push written out (shifts, not
   * products, in link indices: no overflow checks in the JIT's code). At 513 bytes of bytecode it is
   * over V8's 460-byte limit for carrying a callee in line, so the free fast path (which calls it only
   * when the buddy is free) stays small enough to be carried into its callers; split over three
   * functions, V8 carried them into tryFreePages's own optimised code, and that code was then too
   * large for W3's loop to carry (see BuddyAllocator.tryAllocPages).
   */
  freeOne(idx: number, order: number, zone: number): void {
    const meta = this.meta;
    const lists = this.lists;
    const maxOrder = this.maxOrder;
    const zoneLists = zone << LIST_SHIFT;
    const maskAt = ZT_ORDER_MASK | zone;
    // The zone's bounds, read once: [lo, hi) lies inside [0, frameCount), so the test keeps the read
    // of meta in bounds too.
    const lo = lists[ZT_ZONE_LO + zone]!;
    const hi = lists[ZT_ZONE_HI + zone]!;
    // The merging block's head and order in locals made with `| 0`, not in the parameters: a loop
    // variable that starts as a parameter is a tagged value to V8, untagged in every round and
    // tagged again at the loop's exits.
    let head = idx | 0;
    let o = order | 0;
    for (; o < maxOrder; o++) {
      const buddy = head ^ (1 << o);
      if (buddy < lo || buddy >= hi || meta[buddy] !== (FREE_TAG | o)) break;
      // Unlink the buddy (Linux del_page_from_free_list); a list's first block has no prev (see
      // pushFree).
      const nx = lists[((buddy << 1) + LINK_BASE) | 0]!;
      if (lists[zoneLists | o] === buddy) lists[zoneLists | o] = nx;
      else {
        const pv = lists[((buddy << 1) + (LINK_BASE + 1)) | 0]!;
        lists[((pv << 1) + LINK_BASE) | 0] = nx;
        if (nx >= 0) lists[((nx << 1) + (LINK_BASE + 1)) | 0] = pv;
      }
      // `| 0`: a count is at least 1 here, and V8 then subtracts without an overflow check.
      const left = (lists[zoneLists | o | LIST_COUNT]! - 1) | 0;
      lists[zoneLists | o | LIST_COUNT] = left;
      if (left === 0) lists[maskAt]! &= ~(1 << o);
      // The upper half of the pair is a tail from now on; the lower half is the new head.
      meta[head | (1 << o)] = TAIL_TAG;
      head &= buddy;
    }
    // Push on the list: pushFree written out, which keeps freeOne over V8's 460-byte limit for
    // carrying a callee in line. Calling pushFree here, freeOne shrank under it and V8 carried it into
    // the free path, which then no longer fit W3's loop (W3 pure 217 -> 242 instructions per call).
    const list = zoneLists | o;
    const next = lists[list]!;
    lists[((head << 1) + LINK_BASE) | 0] = next;
    if (next >= 0) lists[((next << 1) + (LINK_BASE + 1)) | 0] = head;
    else lists[maskAt]! |= 1 << o;
    lists[list] = head;
    meta[head] = FREE_TAG | o;
    lists[list | LIST_COUNT]!++;
    const listener = this.hookListener;
    if (listener !== null) for (let m = order + 1; m <= o; m++) listener.merge((idx & (-1 << m)) + this.basePfn, m, zone);
  }

  /**
   * The free fast path's buddy half (no hooks): a block whose buddy is not a free head of its order
   * (94% of W3's frees) is pushed on its list by pushFree, which V8 carries in line with it (89 and
   * 136 bytes of bytecode, within the inlining budget, see BuddyAllocator.tryAllocPages); any other
   * goes to freeOne, which merges. A buddy past the last frame (a map whose end is not aligned to
   * the block's size) reads undefined from meta, which equals no tag, so the block is pushed; V8's
   * own bounds check on the read is then the only one (a test of buddy against frameCount as well
   * cost a compare and a branch per free).
   */
  pushOrMerge(idx: number, order: number, zone: number): void {
    const meta = this.meta;
    const buddy = idx ^ (1 << order);
    if (meta[buddy] === (FREE_TAG | order)) return this.freeOne(idx, order, zone);
    this.pushFree(idx, order, zone);
  }

  /**
   * Puts a free block on the head of its list; its tail frames must already be TAIL. A list
   * operation only (no merge attempt). Shifts, not products, in the link indices, and the bitmap is
   * touched only when the list was empty. The block's prev is not written: a list's first block is
   * the one freeHead names, so an unlink tests that (freeOne, delFree) where it tested prev < 0, and
   * neither this push nor the pop (takeHead) keeps the first block's prev at -1. That saved a link
   * store on every push and every pop: W3 pure 216.2 -> 211.2 instructions per call (callgrind).
   */
  pushFree(idx: number, order: number, zone: number): void {
    // meta first: its array is then done with before the list's two are loaded (fewer values for
    // V8 to keep in registers; W3 pure 224.2 -> 219.2 instructions per call).
    this.meta[idx] = FREE_TAG | order;
    const lists = this.lists;
    const list = (zone << LIST_SHIFT) | order;
    const head = lists[list]!;
    lists[((idx << 1) + LINK_BASE) | 0] = head;
    if (head >= 0) lists[((head << 1) + (LINK_BASE + 1)) | 0] = idx;
    else lists[ZT_ORDER_MASK | zone]! |= 1 << order;
    lists[list] = idx;
    lists[list | LIST_COUNT]!++;
  }

  /** The largest order <= maxOrder of a block aligned at start that ends at or before end. */
  largestFit(start: number, end: number): number {
    let order = start === 0 ? this.maxOrder : Math.min(this.maxOrder, 31 - Math.clz32(start & -start));
    while (start + (1 << order) > end) order--;
    return order;
  }

  /** FRAME_* state of a frame index. */
  stateAt(idx: number): number {
    return this.meta[idx]! >>> STATE_SHIFT;
  }

  /** Order recorded for a head frame index. */
  orderAt(idx: number): number {
    return this.meta[idx]! & ORDER_MASK;
  }

  /**
   * The head of the block that contains idx (which must be a managed frame outside contig ranges),
   * found by testing each aligned candidate: heads are exact, so the first head whose block covers idx
   * is the one. Returns -1 only when the metadata is broken.
   */
  findHead(idx: number): number {
    for (let k = 0; k <= this.maxOrder; k++) {
      const h = idx - (idx & ((1 << k) - 1));
      const s = this.stateAt(h);
      if ((s === FRAME_FREE || s === FRAME_PCP || s === FRAME_ALLOC) && h + (1 << this.orderAt(h)) > idx) return h;
    }
    return -1;
  }
}
