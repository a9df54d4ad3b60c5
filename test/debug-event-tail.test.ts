// The event tail (src/debug/event-tail.ts, `buddy86 boot --event-tail N`) keeps each event's size
// exactly, including a failed ALLOC_CONTIG of any u32 npages (the ABI's EINVAL is for 0 only), and
// prints it as frames, never as an order.

import { describe, expect, it } from "vitest";
import { EventTail, formatTail } from "../src/debug/event-tail.js";
import { BuddyAllocator, GFP, MemoryMap } from "../src/mem/index.js";

function tailedBuddy(): { buddy: BuddyAllocator; tail: EventTail } {
  const map = new MemoryMap();
  map.addUsable(0, 16 * 2 ** 20);
  const buddy = new BuddyAllocator(map, { maxOrder: 10 });
  let seq = 0;
  const tail = new EventTail(16, { seq: () => seq++, eip: () => 0 });
  buddy.listener = tail;
  return { buddy, tail };
}

describe("event tail sizes", () => {
  it("keeps a failed contig request of up to 2^32 - 1 pages as frames", () => {
    const { buddy, tail } = tailedBuddy();
    for (const npages of [2 ** 20 + 1, 0x80000001, 0xffffffff]) expect(buddy.tryAllocContig(npages, 1, GFP.KERNEL)).toBe(0);
    expect(tail.events().map((e) => [e.kind, e.size])).toEqual([
      ["fail", -(2 ** 20 + 1)],
      ["fail", -0x80000001],
      ["fail", -0xffffffff],
    ]);
    expect(formatTail(tail.events()).split("\n")).toEqual(["call 0 fail 1048577 frames gfp 0x0", "call 1 fail 2147483649 frames gfp 0x0", "call 2 fail 4294967295 frames gfp 0x0"]);
    // And through a checkpoint of the tail.
    const copy = new EventTail(16, { seq: () => 0, eip: () => 0 });
    copy.setState(tail.getState());
    expect(copy.events()).toEqual(tail.events());
  });

  it("keeps orders and contig lengths as they were", () => {
    const { buddy, tail } = tailedBuddy();
    const addr = buddy.allocPages(3);
    buddy.freePages(addr, 3);
    const range = buddy.allocContig(5);
    buddy.freeContig(range, 5);
    const sizes = tail.events().filter((e) => e.kind !== "split" && e.kind !== "merge").map((e) => [e.kind, e.size]);
    expect(sizes).toEqual([
      ["alloc", 3],
      ["free", 3],
      ["alloc-contig", 5],
      ["free-contig", 5],
    ]);
  });
});
