// The memory map: usable minus reserved, cut to whole frames (usable inward, reserved outward), frame 0
// never managed, overlaps merged; the boot handover cuts each range into the largest aligned blocks.
import { describe, expect, it } from "vitest";
import { BuddyAllocator, BuddyError, GFP, MemoryMap } from "../src/mem/index.js";
import { freeBlocks, makeBuddy, MiB } from "./helpers/mem.js";

describe("memory map and reservations", () => {
  it("rounds usable ranges inward and reserved ranges outward, and never manages frame 0", () => {
    const map = new MemoryMap();
    map.addUsable(0x800, 0x10000); // [0x800, 0x10800): frames 1..15 whole (frame 0 is never managed)
    map.reserve(0x5001, 0x10, "tiny"); // touches frame 5 only: frame 5 reserved
    expect(map.managedPfnRanges()).toEqual([
      { startPfn: 1, endPfn: 5 },
      { startPfn: 6, endPfn: 16 },
    ]);
    expect(map.managedPageCount()).toBe(14);
  });

  it("merges overlapping usable ranges and overlapping reservations", () => {
    const map = new MemoryMap();
    map.addUsable(0, 0x20000);
    map.addUsable(0x10000, 0x20000);
    map.reserve(0x4000, 0x4000, "a");
    map.reserve(0x6000, 0x4000, "b");
    expect(map.usable()).toEqual([{ base: 0, end: 0x30000 }]);
    expect(map.managedPfnRanges()).toEqual([
      { startPfn: 1, endPfn: 4 },
      { startPfn: 10, endPfn: 0x30 },
    ]);
    expect(map.reservationLabel(7)).toBe("a");
    expect(map.reservationLabel(9)).toBe("b");
  });

  it("keeps reserved frames out of every allocation and cuts edges into aligned blocks", () => {
    const kernel = [0x100000, 0x43000, "kernel"] as [number, number, string];
    const buddy = makeBuddy(8 * MiB, { maxOrder: 10 }, [kernel]);
    // Frames [1, 0x100): 1 o0, 2 o1, 4 o2, 8 o3, 0x10 o4, 0x20 o5, 0x40 o6, 0x80 o7.
    // Frames [0x143, 0x400): 0x143 o0, 0x144 o2, 0x148 o3, 0x150 o4, 0x160 o5, 0x180 o7, 0x200 o9.
    // Frames [0x400, 0x800): one order-10 block.
    expect(freeBlocks(buddy)).toEqual([2, 1, 2, 2, 2, 2, 1, 2, 0, 1, 1]);
    const got: number[] = [];
    for (let a; (a = buddy.allocPages(0)) !== 0; ) got.push(a);
    expect(got.length).toBe(buddy.managedPageCount);
    expect(got.every((a) => a < 0x100000 || a >= 0x143000)).toBe(true);
    expect(new Set(got).size).toBe(got.length);
  });

  it("rejects ranges outside [0, 4 GiB)", () => {
    const map = new MemoryMap();
    expect(() => map.addUsable(2 ** 32 - 4096, 8192)).toThrow(BuddyError);
    expect(() => map.reserve(-1, 10, "x")).toThrow(BuddyError);
  });

  it("manages nothing for a map that leaves no frame: every allocation is ENOMEM, every free EFAULT", () => {
    // As the ABI's MEMMAP, which builds an allocator of nothing for such a map (PROTOCOL.md).
    const map = new MemoryMap();
    map.addUsable(16 * MiB, 4 * MiB);
    map.reserve(16 * MiB, 4 * MiB, "all of it");
    const buddy = new BuddyAllocator(map, { maxOrder: 10 });
    expect([buddy.managedPageCount, buddy.freePageCount]).toEqual([0, 0]);
    expect(buddy.zones()).toEqual([]);
    expect([buddy.buddyinfo(), buddy.unusableIndex(), buddy.extfragIndex()]).toEqual(["", "", ""]);
    expect(buddy.allocPages(0)).toBe(0);
    expect(buddy.allocPages(10, GFP.HIGHMEM | GFP.ZERO)).toBe(0);
    expect(buddy.allocContig(1)).toBe(0);
    expect(() => buddy.freePages(16 * MiB, 0)).toThrow(expect.objectContaining({ code: "EFAULT" }));
    expect(() => buddy.allocPages(11)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    buddy.drain();
    buddy.checkInvariants();
    const copy = new BuddyAllocator(map, { maxOrder: 10 });
    copy.setState(buddy.getState());
    expect(copy.buddyinfo()).toBe("");
  });

  it("manages RAM near 4 GiB with bit tricks on pfns only", () => {
    const map = new MemoryMap();
    map.addUsable(2 ** 32 - 64 * MiB, 64 * MiB);
    const buddy = new BuddyAllocator(map, { pcp: false });
    const addr = buddy.allocPages(10, 2);
    expect(addr).toBeGreaterThanOrEqual(2 ** 32 - 64 * MiB);
    expect(addr).toBeLessThan(2 ** 32);
    buddy.freePages(addr, 10);
    expect(buddy.freePageCount).toBe(64 * 256);
    // Metadata covers only from the first managed max-order block: 9 bytes per frame here.
    expect(buddy.metadataBytes / buddy.managedPageCount).toBeLessThan(12);
    buddy.checkInvariants();
  });
});
