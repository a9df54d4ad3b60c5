// The fragmentation chart's line simplification (src/web/charts.ts polylineKeep): the points it
// keeps draw the same polyline as every point, and a level run costs two points, not one per sample.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { polylineKeep } from "../src/web/charts.js";

describe("the chart's polyline simplification", () => {
  it("keeps the ends and every change of height, and leaves out only points on a level segment between kept ones (property)", () => {
    // Heights from a small set, so that level runs of every length occur; a prefix to skip (from).
    const heights = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 200 });
    fc.assert(
      fc.property(heights, fc.integer({ min: 0, max: 5 }), (ys, from) => {
        const all = [...Array.from({ length: from }, () => 7), ...ys];
        const keep = polylineKeep(all, from, ys.length);
        expect(keep[0]).toBe(0);
        expect(keep[keep.length - 1]).toBe(ys.length - 1);
        for (let j = 1; j < keep.length; j++) {
          const a = keep[j - 1]!;
          const b = keep[j]!;
          expect(b).toBeGreaterThan(a);
          // Between two kept points that are not neighbours, the line is level: the same height at
          // both ends and at every point left out, so one segment draws them all.
          for (let k = a + 1; k < b; k++) {
            expect(ys[k]).toBe(ys[a]);
            expect(ys[b]).toBe(ys[a]);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("draws a level line with its two ends and a step with the points on either side", () => {
    expect(polylineKeep(new Float64Array(418).fill(250), 0, 418)).toEqual([0, 417]);
    expect(polylineKeep([5, 5, 5, 9, 9, 9, 9], 0, 7)).toEqual([0, 2, 3, 6]);
    expect(polylineKeep([1, 2, 3], 0, 3)).toEqual([0, 1, 2]);
    expect(polylineKeep([4], 0, 1)).toEqual([0]);
  });
});
