// The timeline of free lists: a bounded budget of evenly spaced samples (thinned as a run grows), and
// the feed that keeps a copy of it (the web page's, across the worker boundary) exact by sending only
// what the copy lacks: how often to thin, then the new samples.

import { describe, expect, it } from "vitest";
import { BuddyAllocator, GFP, LIST_STRIDE, MemoryMap, ZONE_COUNT } from "../src/mem/index.js";
import { Timeline, TimelineFeed, applyTimelineDelta, type TimelineData } from "../src/observe/timeline.js";
import type { EventHub } from "../src/observe/event-hub.js";
import { CallEndSubscribers } from "../src/observe/events.js";

function allocator(): BuddyAllocator {
  const map = new MemoryMap();
  map.addUsable(0, 64 * 2 ** 20);
  return new BuddyAllocator(map, { pcp: false });
}

describe("timeline", () => {
  it("keeps between half and all of its capacity, evenly spaced, whatever the run's length", () => {
    const buddy = allocator();
    const t = new Timeline({ allocator: buddy } as unknown as EventHub, 16);
    for (let seq = 0; seq < 1000; seq++) t.onCallEnd(seq);
    const d = t.toData();
    expect(d.seq.length).toBeGreaterThanOrEqual(8);
    expect(d.seq.length).toBeLessThanOrEqual(16);
    const steps = new Set(d.seq.slice(1).map((s, i) => s - d.seq[i]!));
    expect([...steps]).toEqual([t.interval]);
    expect(t.halvings).toBe(Math.log2(t.interval));
    // Exactly the calls a sample at every multiple of the interval (doubling as it fills) would keep.
    const kept: number[] = [];
    for (let seq = 0, interval = 1; seq < 1000; seq++) {
      if (seq % interval !== 0) continue;
      if (kept.length === 16) {
        kept.splice(0, kept.length, ...kept.filter((_, i) => i % 2 === 0));
        interval *= 2;
        if (seq % interval !== 0) continue;
      }
      kept.push(seq);
    }
    expect(d.seq).toEqual(kept);
  });

  it("feeds a copy that always equals the timeline, sending each sample about once", () => {
    const buddy = allocator();
    const t = new Timeline({ allocator: buddy } as unknown as EventHub, 32);
    const feed = new TimelineFeed(t);
    let copy: TimelineData | null = null;
    let sent = 0;
    const held: number[] = [];
    for (let seq = 0; seq < 5000; seq++) {
      // Change the free lists so that samples differ from each other.
      if (seq % 3 === 2 && held.length > 0) buddy.freePages(held.pop()!, 2);
      else held.push(buddy.allocPages(2, GFP.HIGHMEM));
      t.onCallEnd(seq);
      if (seq % 37 === 0 || seq % 101 === 0) {
        const delta = feed.next();
        sent += delta.raw.length / (1 + 2 * ZONE_COUNT + ZONE_COUNT * (delta.maxOrder + 1));
        copy = applyTimelineDelta(copy, delta);
        expect(copy).toEqual(t.toData());
      }
    }
    copy = applyTimelineDelta(copy, feed.next());
    expect(copy).toEqual(t.toData());
    // Without the feed, every sample would travel again at each thinning (and each request).
    expect(sent).toBeLessThan(5000 / 37 + 5000 / 101 + 32 * 2);
  });

  it("samples each zone's free frames, per-CPU frames and free blocks per order as the allocator counts them", () => {
    const map = new MemoryMap();
    map.addUsable(0, 64 * 2 ** 20);
    const buddy = new BuddyAllocator(map);
    const t = new Timeline({ allocator: buddy } as unknown as EventHub, 64);
    const expected: { free: number[]; pcp: number[]; blocks: number[][] }[] = [];
    const held: [number, number][] = [];
    for (let seq = 0; seq < 40; seq++) {
      // Orders 0 to 4 from DMA and Normal, some freed: splits, per-CPU lists and merges in both zones.
      const order = seq % 5;
      if (seq % 4 === 3) buddy.freePages(...held.splice(seq % held.length, 1)[0]!);
      else held.push([buddy.allocPages(order, seq % 2 === 0 ? GFP.DMA : GFP.KERNEL), order]);
      t.sample(seq);
      const zones = [0, 1];
      expected.push({
        free: zones.map((z) => buddy.zoneFreeFrames(z)),
        pcp: zones.map((z) => buddy.pcpCount[z]!),
        blocks: zones.map((z) => Array.from(buddy.nrFree.subarray(z * LIST_STRIDE, z * LIST_STRIDE + buddy.maxOrder + 1))),
      });
    }
    const d = t.toData();
    expect(d.zones).toEqual([0, 1]);
    expect(d.freeFrames).toEqual(expected.map((e) => e.free));
    expect(d.pcpFrames).toEqual(expected.map((e) => e.pcp));
    expect(d.freeBlocks).toEqual(expected.map((e) => e.blocks));
    expect(new Set(d.freeFrames.map((f) => f.join())).size).toBeGreaterThan(10);
    expect(d.pcpFrames.some((f) => f[0]! > 0) && d.pcpFrames.some((f) => f[1]! > 0)).toBe(true);
  });

  it("is told of a call's end from its nextCallEnd on, beside a subscriber told of every call", () => {
    const buddy = allocator();
    const t = new Timeline({ allocator: buddy } as unknown as EventHub, 16);
    const every: number[] = [];
    const told: number[] = [];
    const ends = new CallEndSubscribers();
    ends.add({
      onCallEnd: (seq: number) => {
        told.push(seq);
        t.onCallEnd(seq);
      },
      get nextCallEnd() {
        return t.nextCallEnd;
      },
    });
    for (let seq = 0; seq < 1000; seq++) if (seq >= ends.from) ends.tell(seq, 0, 0);
    // The calls it is told of are exactly those a timeline told of every call samples at.
    const reference = new Timeline({ allocator: buddy } as unknown as EventHub, 16);
    const sampledAt: number[] = [];
    for (let seq = 0; seq < 1000; seq++) {
      reference.onCallEnd(seq);
      if (reference.toData().seq.at(-1) === seq) sampledAt.push(seq);
    }
    expect(told).toEqual(sampledAt);
    expect(told.length).toBeLessThan(100);
    expect(t.toData()).toEqual(reference.toData());
    ends.add({ onCallEnd: (seq: number) => every.push(seq) });
    for (let seq = 1000; seq < 1100; seq++) if (seq >= ends.from) ends.tell(seq, 0, 0);
    expect(every).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i));
  });
});
