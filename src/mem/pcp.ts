// The per-CPU page cache's operations (Linux's pcp lists: rmqueue_pcplist, rmqueue_bulk,
// free_unref_page, free_pcppages_bulk) over the tables BuddyCore lays out: per zone and order 0..3,
// LIFO lists of cached blocks, refilled and drained `batch` frames at a time. BuddyAllocator
// (buddy.ts) extends this class; BuddyCore (core.ts) holds the lists and the buddy operations.

import { ALLOC_TAG, PCP_MAX_ORDER, PCP_ORDER_COUNT, PCP_TAG, ZONE_COUNT, ZT_ZONELIST } from "./constants.js";
import { BuddyCore } from "./core.js";

export class PerCpuCore extends BuddyCore {
  /**
   * Takes a block of `order` for zone list `zc`, from the per-CPU cache when the order is cached,
   * else from the buddy lists, trying each zone in fallback order. Returns idx with state ALLOC,
   * or -1. Never drains the cache; the caller does that before giving up.
   */
  allocBlock(order: number, zc: number): number {
    const zonelist = this.zonelist;
    const cached = order <= this.pcpMaxOrder;
    for (let slot = zc * 4; ; slot++) {
      const zone = zonelist[slot]!;
      if (zone < 0) return -1;
      const idx = cached ? this.pcpTake(zone, order) : this.rmqueue(zone, order);
      if (idx >= 0) {
        this.meta[idx] = ALLOC_TAG | order;
        return idx;
      }
    }
  }

  /** Pops the newest block of `order` from zone's per-CPU list, refilling it first when empty; or -1. */
  pcpTake(zone: number, order: number): number {
    const idx = this.pcpPop(zone, order);
    if (idx >= 0) return idx;
    this.pcpRefill(zone, order);
    return this.pcpPop(zone, order);
  }

  /**
   * The allocation fast path's per-CPU half: pops a block of `order` from the per-CPU list of the
   * first zone of zone list zc (gfp & 3), or returns -1 (no refill, no fallback: the slow path's).
   * The zone comes from the fast paths' copy of the zone lists, which holds none while a hook is
   * attached (see fastFrameCount).
   */
  pcpPopFirst(order: number, zc: number): number {
    const zone = this.lists[ZT_ZONELIST + (zc << 2)]!;
    return zone >= 0 ? this.pcpPop(zone, order) : -1;
  }

  /**
   * Pops the newest block of `order` from zone's per-CPU list, or -1 when it is empty. It and pcpPut
   * use the small named views, not lists: the allocation and free fast paths inline them, and the
   * extra offset arithmetic pushed zoneOf out of V8's inlining budget (W1b: 130 -> 166 instructions).
   */
  pcpPop(zone: number, order: number): number {
    const pl = zone * PCP_ORDER_COUNT + order;
    const idx = this.pcpHead[pl]!;
    if (idx < 0) return -1;
    const link = this.link;
    const nx = link[idx << 1]!;
    this.pcpHead[pl] = nx;
    if (nx >= 0) link[(nx << 1) | 1] = -1;
    else this.pcpTail[pl] = -1;
    this.pcpCount[zone]! -= 1 << order;
    return idx;
  }

  /** Linux rmqueue_bulk: moves max(batch >> order, 2) blocks from the buddy lists to the list's tail. */
  pcpRefill(zone: number, order: number): void {
    const link = this.link;
    const pl = zone * PCP_ORDER_COUNT + order;
    const count = Math.max(this.pcpBatch >> order, 2);
    for (let i = 0; i < count; i++) {
      const idx = this.rmqueue(zone, order);
      if (idx < 0) break;
      const tail = this.pcpTail[pl]!;
      this.meta[idx] = PCP_TAG | order;
      link[2 * idx] = -1;
      link[2 * idx + 1] = tail;
      if (tail >= 0) link[2 * tail] = idx;
      else this.pcpHead[pl] = idx;
      this.pcpTail[pl] = idx;
      this.pcpCount[zone]! += 1 << order;
    }
  }

  /** Pushes a freed block on its per-CPU list (LIFO), draining a batch when the zone reaches `high`. */
  pcpPut(idx: number, order: number, zone: number): void {
    const link = this.link;
    const pl = zone * PCP_ORDER_COUNT + order;
    const head = this.pcpHead[pl]!;
    this.meta[idx] = PCP_TAG | order;
    link[idx << 1] = head;
    link[(idx << 1) | 1] = -1;
    if (head >= 0) link[(head << 1) | 1] = idx;
    else this.pcpTail[pl] = idx;
    this.pcpHead[pl] = idx;
    if ((this.pcpCount[zone]! += 1 << order) >= this.pcpHigh) this.pcpDrain(zone, this.pcpBatch);
  }

  /**
   * Linux free_pcppages_bulk: gives at least `frames` frames (or all the zone holds) back to the buddy
   * lists, oldest first, list by list in round-robin order.
   */
  pcpDrain(zone: number, frames: number): void {
    const link = this.link;
    const before = this.pcpCount[zone]!;
    let count = Math.min(frames, before);
    let pindex = this.pcpDrainIndex[zone]!;
    while (count > 0) {
      let pl: number;
      do {
        if (++pindex > PCP_MAX_ORDER) pindex = 0;
        pl = zone * PCP_ORDER_COUNT + pindex;
      } while (this.pcpTail[pl]! < 0);
      do {
        const idx = this.pcpTail[pl]!;
        const pv = link[2 * idx + 1]!;
        this.pcpTail[pl] = pv;
        if (pv >= 0) link[2 * pv] = -1;
        else this.pcpHead[pl] = -1;
        count -= 1 << pindex;
        this.pcpCount[zone]! -= 1 << pindex;
        this.freeOne(idx, pindex, zone);
      } while (count > 0 && this.pcpTail[pl]! >= 0);
    }
    this.pcpDrainIndex[zone] = pindex;
    // Whole blocks go back, so the frames moved can exceed the frames asked for.
    const drained = before - this.pcpCount[zone]!;
    if (drained > 0 && this.listener !== null) this.listener.pcpDrain(zone, drained);
  }

  /** Frames held by the per-CPU cache, all zones. */
  pcpTotal(): number {
    return this.pcpCount[0]! + this.pcpCount[1]! + this.pcpCount[2]!;
  }

  /** Empties every zone's per-CPU cache into the buddy lists. */
  drainAll(): void {
    for (let z = 0; z < ZONE_COUNT; z++) if (this.pcpCount[z]! > 0) this.pcpDrain(z, this.pcpCount[z]!);
  }
}
