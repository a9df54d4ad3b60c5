// Deterministic fault injection on the allocator: --fail-nth, --fail-every, --fail-order,
// --fail-probability with --seed, --fail-site; injected failures are ENOMEM, reported to the listener
// as injected, change nothing, and the same options fail the same requests every time.
import { describe, expect, it } from "vitest";
import { Errno, type BuddyListener } from "../src/mem/index.js";
import { FaultInjector, validateFaultOptions, type FaultOptions } from "../src/debug/fault-inject.js";
import { makeBuddy, MiB } from "./helpers/mem.js";

function setup(options: FaultOptions, stack: string[] = []) {
  const a = makeBuddy(16 * MiB, { pcp: { high: 64, batch: 8 } });
  let seq = 0;
  const injector = new FaultInjector(options, { seq: () => seq, eip: () => 0 });
  injector.stack = () => stack;
  a.failPredicate = injector.predicate;
  const fails: [number, boolean][] = [];
  const noop = (): void => {};
  const listener: BuddyListener = { alloc: noop, free: noop, split: noop, merge: noop, pcpDrain: noop, allocContig: noop, freeContig: noop, fail: (order, _gfp, injected) => fails.push([order, injected]) };
  a.listener = listener;
  /** Makes n order-`order` requests (freeing each success); returns the 1-based indices that failed. */
  const run = (n: number, order = 0): number[] => {
    const failed: number[] = [];
    for (let i = 1; i <= n; i++) {
      seq++;
      const addr = a.tryAllocPages(order, 0);
      if (addr === 0) failed.push(i);
      else a.freePages(addr, order);
    }
    return failed;
  };
  return { a, injector, run, fails };
}

describe("fault injection", () => {
  it("--fail-nth fails exactly the N-th allocation, as an injected ENOMEM that changes nothing", () => {
    const { a, injector, run, fails } = setup({ failNth: 7 });
    expect(run(6)).toEqual([]);
    const state = JSON.stringify(Object.values(a.getState().arrays).map((x) => Array.from(x)));
    expect(a.tryAllocPages(0, 0)).toBe(0);
    expect(JSON.stringify(Object.values(a.getState().arrays).map((x) => Array.from(x)))).toBe(state);
    expect(run(20)).toEqual([]);
    expect(fails).toEqual([[0, true]]);
    expect(injector.injected).toBe(1);
    expect(injector.log).toEqual([{ seq: 6, order: 0, npages: 1, gfp: 0 }]);
  });

  it("--fail-every N fails every N-th allocation", () => {
    expect(setup({ failEvery: 4 }).run(13)).toEqual([4, 8, 12]);
  });

  it("--fail-order K: only orders >= K are candidates (ALLOC_CONTIG by the order covering npages)", () => {
    const { a, run } = setup({ failOrder: 2 });
    expect(run(3, 1)).toEqual([]);
    expect(run(3, 2)).toEqual([1, 2, 3]);
    expect(a.tryAllocContig(5, 1, 0)).toBe(0); // 5 frames: order 3
    expect(a.tryAllocContig(3, 1, 0)).toBe(0); // order 2
    expect(a.tryAllocContig(2, 1, 0)).toBeGreaterThan(0); // order 1
    expect(a.tryAllocContig(1, 1, 0)).toBeGreaterThan(0);
  });

  it("--fail-order with --fail-every counts only candidates", () => {
    const { run } = setup({ failOrder: 1, failEvery: 2 });
    expect(run(5, 0)).toEqual([]);
    expect(run(6, 1)).toEqual([2, 4, 6]);
  });

  it("--fail-probability P --seed S: the same seed fails the same calls, another seed others", () => {
    const a = setup({ failProbability: 0.25, seed: 42 }).run(400);
    const b = setup({ failProbability: 0.25, seed: 42 }).run(400);
    const c = setup({ failProbability: 0.25, seed: 43 }).run(400);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(60);
    expect(a.length).toBeLessThan(140);
    expect(setup({ failProbability: 0, seed: 1 }).run(50)).toEqual([]);
    expect(setup({ failProbability: 1, seed: 1 }).run(5)).toEqual([1, 2, 3, 4, 5]);
  });

  it("--fail-site SYMBOL matches a frame of the guest's call stack by function name", () => {
    expect(setup({ failSite: "random_run" }, ["hc_alloc_pages+0x1c", "random_run+0x9a", "kmain+0x40"]).run(3)).toEqual([1, 2, 3]);
    expect(setup({ failSite: "random" }, ["hc_alloc_pages+0x1c", "random_run+0x9a"]).run(3)).toEqual([]);
    expect(setup({ failSite: "fill_run", failNth: 2 }, ["fill_run+0x10"]).run(3)).toEqual([2]);
  });

  it("does not consult the predicate for invalid requests, and the state round-trips", () => {
    const { a, injector, run } = setup({ failEvery: 3 });
    expect(a.tryAllocPages(99, 0)).toBe(-Errno.EINVAL);
    expect(injector.attempts).toBe(0);
    run(4);
    const saved = injector.getState();
    const next = run(10);
    const other = setup({ failEvery: 3 });
    other.injector.setState(saved);
    expect(other.run(10)).toEqual(next);
  });

  it("rejects options that cannot work, naming them", () => {
    expect(() => validateFaultOptions({ failNth: 0 })).toThrow("--fail-nth");
    expect(() => validateFaultOptions({ failEvery: 1.5 })).toThrow("--fail-every");
    expect(() => validateFaultOptions({ failProbability: 2 })).toThrow("--fail-probability");
    expect(() => validateFaultOptions({ failOrder: -1 })).toThrow("--fail-order");
    expect(() => validateFaultOptions({ failSite: "a b" })).toThrow("--fail-site");
  });
});
