// Zones: DMA [0, 16 MiB), Normal [16 MiB, 896 MiB), HighMem above; GFP picks the zone list and the
// fallback order; no block crosses a zone boundary and no merge joins two zones.
import { describe, expect, it } from "vitest";
import { BuddyError, GFP } from "../src/mem/index.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

const DMA_END = 16 * MiB;
const NORMAL_END = 896 * MiB;

describe("zones", () => {
  it("omits empty zones and names the present ones", () => {
    expect(makeBuddy(8 * MiB).zones().map((z) => z.name)).toEqual(["DMA"]);
    expect(makeBuddy(128 * MiB).zones().map((z) => z.name)).toEqual(["DMA", "Normal"]);
    const big = makeBuddy(1024 * MiB);
    expect(big.zones().map((z) => [z.name, z.startPfn, z.endPfn, z.managed])).toEqual([
      ["DMA", 1, 0x1000, 0xfff],
      ["Normal", 0x1000, 0x38000, 0x37000],
      ["HighMem", 0x38000, 0x40000, 0x8000],
    ]);
    expect(big.zoneCount).toBe(3);
  });

  it("zones() gives exactly issue 2's fields; the per-CPU cache's frames are pcpFrames()", () => {
    const buddy = makeBuddy(32 * MiB, { pcp: { high: 378, batch: 63 } });
    const a = buddy.allocPages(0, GFP.KERNEL);
    expect(buddy.zones()).toEqual([
      { name: "DMA", startPfn: 1, endPfn: 0x1000, managed: 0xfff, free: 0xfff, freeBlocks: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3] },
      { name: "Normal", startPfn: 0x1000, endPfn: 0x2000, managed: 0x1000, free: 0x1000 - 63, freeBlocks: [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 3] },
    ]);
    expect(buddy.pcpFrames()).toEqual([0, 62]);
    buddy.freePages(a, 0);
    expect(buddy.pcpFrames()).toEqual([0, 63]);
  });

  it("GFP_KERNEL takes Normal first and falls back to DMA when Normal is exhausted", () => {
    const buddy = makeBuddy(32 * MiB);
    const first = buddy.allocPages(0, GFP.KERNEL);
    expect(first).toBeGreaterThanOrEqual(DMA_END);
    while (buddy.zones()[1]!.free > 0) buddy.allocPages(0, GFP.KERNEL);
    const fallback = buddy.allocPages(0, GFP.KERNEL);
    expect(fallback).toBeGreaterThan(0);
    expect(fallback).toBeLessThan(DMA_END);
    buddy.checkInvariants();
  });

  it("GFP_DMA only ever gets DMA frames and fails when DMA is empty though Normal is not", () => {
    const buddy = makeBuddy(64 * MiB);
    let count = 0;
    for (let addr; (addr = buddy.allocPages(0, GFP.DMA)) !== 0; count++) expect(addr).toBeLessThan(DMA_END);
    expect(count).toBe(0xfff);
    expect(buddy.zones()[1]!.free).toBeGreaterThan(0);
    expect(buddy.allocPages(0, GFP.DMA)).toBe(0);
    buddy.checkInvariants();
  });

  it("GFP_HIGHMEM takes HighMem, then Normal, then DMA", () => {
    const buddy = makeBuddy(1024 * MiB);
    const seen = new Set<string>();
    for (let addr; (addr = buddy.allocPages(10, GFP.HIGHMEM)) !== 0; ) {
      const zone = addr < DMA_END ? "DMA" : addr < NORMAL_END ? "Normal" : "HighMem";
      if (!seen.has(zone)) seen.add(zone);
      expect([...seen].at(-1)).toBe(zone); // zones are visited in order, never back
    }
    expect([...seen]).toEqual(["HighMem", "Normal", "DMA"]);
  });

  it("GFP_KERNEL never reaches HighMem", () => {
    const buddy = makeBuddy(1024 * MiB);
    for (let addr; (addr = buddy.allocPages(10, GFP.KERNEL)) !== 0; ) expect(addr).toBeLessThan(NORMAL_END);
    expect(buddy.zones()[2]!.free).toBe(0x8000);
  });

  it("rejects DMA|HIGHMEM (GFP_ZONE_BAD) and unknown bits with EINVAL", () => {
    const buddy = makeBuddy(32 * MiB);
    expect(() => buddy.allocPages(0, GFP.DMA | GFP.HIGHMEM)).toThrow(BuddyError);
    expect(buddy.tryAllocPages(0, 0x4)).toBe(-2);
    expect(buddy.tryAllocPages(0, 0x80000000)).toBe(-2);
  });

  it("never lets a block cross a zone boundary, even with maxOrder 18", () => {
    const buddy = makeBuddy(1536 * MiB, { maxOrder: 18 });
    // The Normal zone [16 MiB, 896 MiB) holds no 1 GiB-aligned 1 GiB block; an order-18 block exists
    // only in HighMem if at all ([1 GiB, 2 GiB) is not fully present), so every order-18 request fails.
    expect(buddy.allocPages(18, GFP.HIGHMEM)).toBe(0);
    // Order 17 (512 MiB): HighMem [1 GiB, 1.5 GiB) is one; none in Normal crosses 896 MiB.
    const a = buddy.allocPages(17, GFP.HIGHMEM);
    expect(a).toBe(1024 * MiB);
    // [512 MiB, 1 GiB) would be the other order-17 block, but it crosses 896 MiB: none is left.
    expect(buddy.allocPages(17, GFP.HIGHMEM)).toBe(0);
    buddy.checkInvariants();
  });

  it("does not merge free blocks across the 896 MiB boundary", () => {
    const buddy = makeBuddy(1024 * MiB, { maxOrder: 16 });
    // 0x30000-0x37fff (Normal) and 0x38000-0x3ffff (HighMem) are order-15 buddies in different zones,
    // so they stay apart: Normal has order-15 blocks at 0x8000 and 0x30000, HighMem one at 0x38000.
    expect(buddy.zones()[1]!.freeBlocks[15]).toBe(2);
    expect(buddy.zones()[2]!.freeBlocks[15]).toBe(1);
    const blocks = [];
    for (let addr; (addr = buddy.allocPages(15, GFP.HIGHMEM)) !== 0; ) blocks.push(addr);
    for (const addr of blocks) buddy.freePages(addr, 15);
    expect(buddy.zones()[1]!.freeBlocks[15]).toBe(2);
    expect(buddy.zones()[1]!.freeBlocks[16]).toBe(2);
    expect(buddy.zones()[2]!.freeBlocks[15]).toBe(1);
    buddy.checkInvariants();
  });
});
