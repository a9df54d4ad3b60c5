// The layout of `lists` (src/mem/constants.ts, BuddyCore.lists): the per-zone tables at fixed offsets,
// none overlapping the next, then the frames' links from LINK_BASE, which the `link` view and every
// table's named view must address exactly. The hot paths index `lists` with these literals, so an
// offset that drifts into its neighbour corrupts lists without any type error.
import { describe, expect, it } from "vitest";
import {
  LINK_BASE,
  LIST_COUNT,
  LIST_HEAD,
  LIST_STRIDE,
  PCP_ORDER_COUNT,
  ZONE_COUNT,
  ZT_ORDER_MASK,
  ZT_PCP_COUNT,
  ZT_PCP_DRAIN,
  ZT_PCP_HEAD,
  ZT_PCP_TAIL,
  ZT_ZONE_HI,
  ZT_ZONE_LO,
  ZT_ZONELIST,
} from "../src/mem/constants.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

describe("the layout of lists", () => {
  it("places each table after the one before it and the links after the last, on a cache line", () => {
    const tables: [string, number, number][] = [
      ["freeHead", LIST_HEAD, ZONE_COUNT * LIST_STRIDE],
      ["nrFree", LIST_COUNT, ZONE_COUNT * LIST_STRIDE],
      ["orderMask", ZT_ORDER_MASK, ZONE_COUNT],
      ["zoneLo", ZT_ZONE_LO, ZONE_COUNT],
      ["zoneHi", ZT_ZONE_HI, ZONE_COUNT],
      ["pcpHead", ZT_PCP_HEAD, ZONE_COUNT * PCP_ORDER_COUNT],
      ["pcpTail", ZT_PCP_TAIL, ZONE_COUNT * PCP_ORDER_COUNT],
      ["pcpCount", ZT_PCP_COUNT, ZONE_COUNT],
      ["pcpDrainIndex", ZT_PCP_DRAIN, ZONE_COUNT],
      ["zonelist copy", ZT_ZONELIST, 12],
      ["links", LINK_BASE, 0],
    ];
    for (let i = 1; i < tables.length; i++) {
      const [name, start] = tables[i]!;
      const [before, beforeStart, beforeSize] = tables[i - 1]!;
      expect(start, `${name} starts inside ${before}`).toBeGreaterThanOrEqual(beforeStart + beforeSize);
    }
    expect(LINK_BASE % 16).toBe(0);
  });

  it("gives every named view and the links the words the hot paths index", () => {
    const buddy = makeBuddy(64 * MiB, { pcp: { high: 40, batch: 8 } });
    const views: [Int32Array, number][] = [
      [buddy.freeHead, LIST_HEAD],
      [buddy.nrFree, LIST_COUNT],
      [buddy.orderMask, ZT_ORDER_MASK],
      [buddy.zoneLo, ZT_ZONE_LO],
      [buddy.zoneHi, ZT_ZONE_HI],
      [buddy.pcpHead, ZT_PCP_HEAD],
      [buddy.pcpTail, ZT_PCP_TAIL],
      [buddy.pcpCount, ZT_PCP_COUNT],
      [buddy.pcpDrainIndex, ZT_PCP_DRAIN],
      [buddy.link, LINK_BASE],
    ];
    for (const [view, offset] of views) {
      expect(view.buffer).toBe(buddy.lists.buffer);
      expect(view.byteOffset).toBe(buddy.lists.byteOffset + 4 * offset);
    }
    expect(buddy.link.length).toBe(2 * buddy.frameCount);
    expect(buddy.lists.length).toBe(LINK_BASE + 2 * buddy.frameCount);

    // The buddy lists' hot paths write links through lists, the per-CPU lists through the view: after
    // both kinds of traffic, the lists are whole and every frame's links read the same both ways.
    const held: [number, number][] = [];
    for (let i = 0; i < 400; i++) {
      const order = (i * 7) % 6;
      const addr = buddy.allocPages(order);
      if (addr !== 0) held.push([addr, order]);
      if (i % 3 === 2) {
        const [a, o] = held.splice((i * 13) % held.length, 1)[0]!;
        buddy.freePages(a, o);
      }
    }
    buddy.checkInvariants();
    for (const [a, o] of held) buddy.freePages(a, o);
    buddy.drain();
    buddy.checkInvariants();
    expect(buddy.freePageCount).toBe(buddy.managedPageCount);
    for (let i = 0; i < buddy.link.length; i++) expect(buddy.link[i]).toBe(buddy.lists[LINK_BASE + i]);
  });
});
