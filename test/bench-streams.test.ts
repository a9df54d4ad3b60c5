// The bench's workloads draw the streams issue 2 defines. The bench writes its loops for V8 (the
// generator, the order rule and the pick written out, orders kept in the live addresses' low bits,
// chunks of 10,000 ops), so this test runs `npm run bench`'s own code as a process (src/bench/bench.ts
// bundled as scripts/build.mjs bundles it, `--one W --reps 1`) and replays each stream here, plainly,
// from the text on the package's public API: the failures, the number of blocks live at
// the end and which they are (the sum of their addresses and orders) must agree. It also checks the
// stream's pieces: xorshift32 (and its rejected seed) and W3's orders.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Xorshift32, w3Order } from "../src/bench/workloads.js";
import { BuddyAllocator, GFP, MemoryMap, PAGE_SIZE } from "../src/mem/index.js";
import { bundleForNode } from "./helpers/cli.js";

const ROOT = join(import.meta.dirname, "..");
const FRAMES = 262_144;
// bench.js and the bench-loops.js it imports per page source, side by side as in dist/bench.
const outdir = join(ROOT, "node_modules/.cache/buddy86-tests", `bench-${process.pid}`);

beforeAll(async () => {
  const entryPoints = { bench: join(ROOT, "src/bench/bench.ts"), "bench-loops": join(ROOT, "src/bench/bench-loops.ts") };
  await bundleForNode(entryPoints, { outdir }, { minifySyntax: true });
}, 60_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

interface Row {
  calls: number;
  failures: number;
  live: number;
  liveChecksum: number;
  stack?: Row;
}

/** One measurement as `npm run bench` makes it for a row, with one timed rep (and the stack's after it). */
function benchRow(workload: string, mode: string, withStack = false): Row {
  const args = [join(outdir, "bench.js"), "--one", workload, mode, "--reps", "1", ...(withStack ? ["--with-stack"] : [])];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: "utf8" }));
}

function pool(mode: string): BuddyAllocator {
  const map = new MemoryMap();
  map.addUsable(0, FRAMES * PAGE_SIZE);
  return new BuddyAllocator(map, { pcp: mode === "pcp" ? { high: 378, batch: 63 } : false });
}

/**
 * W3 and W4 from the issue: each op draws a, then b. W3 frees live[floor(b * live.length / 2^32)]
 * (the last live block takes its place) when a >>> 31 is 1 and a block is live, else allocates order
 * clz32(2047 - b % 2047) - 21. W4 allocates while the live frames are under 90% of the pool, else
 * frees.
 */
function replay(workload: "W3" | "W4", buddy: BuddyAllocator): { failures: number; live: number; liveChecksum: number } {
  const rng = new Xorshift32(2463534242);
  const live: { addr: number; order: number }[] = [];
  let liveFrames = 0;
  let failures = 0;
  for (let op = 0; op < 2_000_000; op++) {
    const a = rng.next();
    const b = rng.next();
    const free = workload === "W3" ? a >>> 31 === 1 && live.length > 0 : live.length > 0 && liveFrames >= 0.9 * FRAMES;
    if (free) {
      const i = Math.floor((b * live.length) / 2 ** 32);
      const block = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      buddy.freePages(block.addr, block.order);
      liveFrames -= 2 ** block.order;
    } else {
      const order = Math.clz32(2047 - (b % 2047)) - 21;
      const addr = buddy.allocPages(order, GFP.HIGHMEM);
      if (addr === 0) failures++;
      else {
        live.push({ addr, order });
        liveFrames += 2 ** order;
      }
    }
  }
  return { failures, live: live.length, liveChecksum: live.reduce((sum, block) => (sum + block.addr + block.order) % 2 ** 32, 0) };
}

describe("the bench's streams", () => {
  it("xorshift32 gives Marsaglia's sequence and rejects a seed that would stay 0", () => {
    const rng = new Xorshift32(2463534242);
    // The first outputs of xor32 in Marsaglia's "Xorshift RNGs" (2003), from his seed.
    expect([rng.next(), rng.next(), rng.next()]).toEqual([723471715, 2497366906, 2064144800]);
    for (const seed of [0, -1, 2 ** 32, 1.5]) expect(() => new Xorshift32(seed)).toThrow(RangeError);
  });

  it("W3's order rule gives order k to 2^(10 - k) of the 2047 remainders", () => {
    const perOrder = new Array<number>(11).fill(0);
    for (let r = 0; r < 2047; r++) perOrder[w3Order(r)]!++;
    expect(perOrder).toEqual([1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1]);
    // Above 2^31 too, where `%` on a negative int32 would differ.
    for (const b of [2047, 4094, 2 ** 31, 2 ** 32 - 1, 3_000_000_000]) expect(w3Order(b)).toBe(Math.clz32(2047 - (b % 2047)) - 21);
  });

  for (const [workload, mode] of [["W3", "pure"], ["W4", "pure"], ["W4", "pcp"]] as const) {
    it(`${workload} ${mode}: the bench's loop makes the issue's stream`, () => {
      const row = benchRow(workload, mode);
      const expected = replay(workload, pool(mode));
      expect(row.calls).toBe(2_000_000);
      expect(expected.live).toBeGreaterThan(0);
      expect({ failures: row.failures, live: row.live, liveChecksum: row.liveChecksum }).toEqual(expected);
    });
  }

  it("a row's process measures the plain stack after the allocator, with the same stream", () => {
    const row = benchRow("W3", "pure", true);
    // W3 never fails on either source, so the same draws leave the same number of blocks live;
    // which blocks differs (the stack hands out other frames).
    expect(row.stack).toMatchObject({ calls: 2_000_000, failures: 0, live: row.live });
    expect(row.stack!.liveChecksum).not.toBe(row.liveChecksum);
  });

  it("W2 fills the pool to its one failure and frees every frame", () => {
    const row = benchRow("W2", "pure");
    // Frame 0 is never managed: 262,143 allocations, the failure, 262,143 frees.
    expect(row).toMatchObject({ calls: 2 * (FRAMES - 1) + 1, failures: 1, live: 0 });
  });
});
