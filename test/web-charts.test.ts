// The unusable-index chart computes every order of a buddyinfo row in one pass (unusableIndexRow): it
// must give exactly the integers of unusableFreeIndex (Linux's unusable_free_index), order by order.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unusableFreeIndex } from "../src/mem/index.js";
import { unusableIndexRow } from "../src/web/charts.js";

describe("unusableIndexRow", () => {
  it("equals unusableFreeIndex for every order of any row", () => {
    const row = fc.array(fc.oneof(fc.constant(0), fc.nat(3), fc.nat(200_000)), { minLength: 1, maxLength: 19 });
    fc.assert(
      fc.property(row, (blocks) => {
        const out = new Float64Array(blocks.length);
        unusableIndexRow(blocks, out);
        expect(Array.from(out)).toEqual(blocks.map((_, order) => unusableFreeIndex(blocks, order)));
      }),
      { numRuns: 2000 },
    );
  });

  it("an empty zone is all unusable; a zone of only max-order blocks has none unusable", () => {
    const out = new Float64Array(11);
    unusableIndexRow(new Array<number>(11).fill(0), out);
    expect(Array.from(out)).toEqual(new Array<number>(11).fill(1000));
    unusableIndexRow([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], out);
    expect(Array.from(out)).toEqual(new Array<number>(11).fill(0));
  });
});
