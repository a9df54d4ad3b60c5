// The --frag chart: one panel per zone, one line per order whose points are Linux's unusable free
// space index at each sample, MARKs as labelled dashed lines; and the timeline's bounded sampling
// (a full budget halves the samples and doubles the interval).

import { describe, expect, it } from "vitest";
import { Cmd } from "../src/protocol/abi.js";
import { renderFragSvg, type TimelineData } from "../src/observe/index.js";
import { unusableFreeIndex } from "../src/mem/index.js";
import { observedGuest } from "./observe-fixtures.js";

describe("fragmentation chart", () => {
  it("draws each zone's unusable index per order from the samples", () => {
    const t: TimelineData = {
      maxOrder: 2,
      zones: [0, 1],
      seq: [0, 50, 100],
      freeFrames: [[0, 0], [0, 0], [0, 0]],
      pcpFrames: [[0, 0], [0, 0], [0, 0]],
      freeBlocks: [
        [[0, 0, 4], [0, 0, 8]],
        [[4, 2, 2], [8, 0, 0]],
        [[16, 0, 0], [0, 4, 0]],
      ],
    };
    const svg = renderFragSvg(t, [{ seq: 50, label: "phase:x" }], "title");
    expect(svg.match(/<polyline /g)!.length).toBe(6);
    expect(svg).toContain("zone DMA");
    expect(svg).toContain("zone Normal");
    expect(svg).toContain(">phase:x</text>");
    // The order-2 line of DMA: index 0, then (16-8)/16 = 0.5, then 1.
    expect(unusableFreeIndex([4, 2, 2], 2)).toBe(500);
    const lines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!.split(" ").map((p) => Number(p.split(",")[1])));
    const dmaOrder2 = lines[2]!;
    const top = dmaOrder2[2]!; // value 1
    const bottom = dmaOrder2[0]!; // value 0
    expect(dmaOrder2[1]).toBeCloseTo((top + bottom) / 2, 5);
    expect(bottom - top).toBeCloseTo(220, 5);
  });

  it("keeps a bounded number of evenly spaced samples", () => {
    const o = observedGuest();
    for (let i = 0; i < 5000; i++) o.callAt(0x101000, 0, Cmd.STAT, 0, 0);
    const t = o.session.timeline!.toData();
    expect(t.seq.length).toBeLessThanOrEqual(2048);
    expect(t.seq.length).toBeGreaterThanOrEqual(1024);
    const steps = new Set(t.seq.slice(1).map((s, i) => s - t.seq[i]!));
    expect(steps.size).toBe(1);
    expect(t.zones).toEqual([0, 1]);
  });
});
