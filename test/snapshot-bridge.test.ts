// Bridge checkpoints without an emulator: exportState() after some traffic, importState() into a
// fresh bridge over a copy of RAM, and the same calls afterwards get the same answers from both,
// with the same counters, marks and allocator state. A state that does not fit is refused whole.
import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { HypercallBridge } from "../src/machine/index.js";
import type { BuddyAllocator } from "../src/mem/index.js";
import { MiB, allocatorState, bootedGuest, fakeGuest, type FakeGuest } from "./bridge-fixtures.js";
import { Xorshift32 } from "../src/bench/workloads.js";
import { EventHub } from "../src/observe/event-hub.js";

/** The project's xorshift32 (src/bench/workloads.ts) as a function. */
function xorshift(seed: number): () => number {
  const rng = new Xorshift32(seed);
  return () => rng.next();
}

/** n calls of mixed traffic; returns what the guest saw. Held blocks are tracked in `held`. */
function traffic(g: FakeGuest, rand: () => number, n: number, held: [number, number][]): string[] {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    let call: [number, number, number];
    if (r % 3 === 0 && held.length > 0) {
      const [addr, order] = held.splice(r % held.length, 1)[0]!;
      call = [Cmd.FREE_PAGES, addr, order];
    } else if (r % 7 === 1) call = [Cmd.STAT, r % 5, r % 12];
    else call = [Cmd.ALLOC_PAGES, r % 6, [0, 1, 0x100][r % 3]!];
    const out = g.bridge.call(call[0], call[1], call[2]);
    if (call[0] === Cmd.ALLOC_PAGES && out.status === Status.OK) held.push([out.result, call[1]]);
    seen.push(`${call.join(",")} -> ${out.status}:${out.result}`);
  }
  return seen;
}

describe("bridge checkpoints", () => {
  it("a restored bridge answers the next calls exactly as the original", () => {
    const a = bootedGuest({ ramBytes: 16 * MiB, pcp: { high: 40, batch: 8 } });
    a.bridge.call(Cmd.MARK, 0x7c00 + 16); // whatever the info holds there; counted either way
    const rand = xorshift(7);
    const held: [number, number][] = [];
    traffic(a, rand, 700, held);
    const saved = a.bridge.exportState();

    const b = fakeGuest({ ramBytes: 16 * MiB, pcp: { high: 40, batch: 8 } });
    b.ram.set(a.ram);
    let attached: BuddyAllocator | null = null;
    const c = new HypercallBridge({ ram: b.ram, reg32: b.reg32, pcp: { high: 40, batch: 8 }, onAllocator: (x) => (attached = x) });
    c.importState(saved);
    expect(attached).toBe(c.allocator);
    expect(c.seq).toBe(a.bridge.seq);
    expect(c.state).toBe("running");
    expect(allocatorState(c)).toEqual(allocatorState(a.bridge));
    expect(c.counters.snapshot()).toEqual(a.bridge.counters.snapshot());
    expect(c.marks).toEqual(a.bridge.marks);
    c.allocator!.checkInvariants();

    const restored = { ...b, bridge: c };
    const heldCopy = held.map((h) => [...h] as [number, number]);
    const next = traffic(a, xorshift(99), 500, held);
    expect(traffic(restored, xorshift(99), 500, heldCopy)).toEqual(next);
    expect(allocatorState(c)).toEqual(allocatorState(a.bridge));
    expect(c.counters.snapshot()).toEqual(a.bridge.counters.snapshot());
  });

  it("refuses a state of another allocator geometry, and a bridge that has served calls, changing nothing", () => {
    const a = bootedGuest({ ramBytes: 16 * MiB, maxOrder: 10 });
    const saved = a.bridge.exportState();
    const other = fakeGuest({ ramBytes: 16 * MiB, maxOrder: 8 });
    expect(() => other.bridge.importState(saved)).toThrow(/maxOrder/);
    expect(other.bridge.seq).toBe(0);
    expect(other.bridge.allocator).toBeNull();
    expect(other.bridge.counters.totalCalls()).toBe(0);
    const used = fakeGuest({ ramBytes: 16 * MiB });
    used.bridge.call(Cmd.HELLO, 1);
    expect(() => used.bridge.importState(saved)).toThrow(/already served/);
  });

  it("an event hub observing a restored bridge hears the first call's allocator events", () => {
    const a = bootedGuest({ ramBytes: 16 * MiB });
    const block = a.bridge.call(Cmd.ALLOC_PAGES, 2, 0).result;
    const saved = a.bridge.exportState();
    const b = fakeGuest({ ramBytes: 16 * MiB });
    b.ram.set(a.ram);
    const hub = new EventHub();
    const kinds: string[] = [];
    hub.subscribe({ onEvent: (e) => kinds.push(`${e.kind}@${e.seq}`) });
    const c = new HypercallBridge({ ram: b.ram, reg32: b.reg32, observer: hub });
    c.importState(saved);
    // Without BridgeObserver.onRestore the hub hooked the allocator only at the end of this call.
    expect(c.call(Cmd.FREE_PAGES, block, 2).status).toBe(Status.OK);
    expect(kinds).toContain(`free@${saved.calls}`);
    expect(hub.allocatorFresh).toBe(false);
  });

  it("does not export a bridge whose guest has exited", () => {
    const a = bootedGuest({ ramBytes: 16 * MiB });
    a.bridge.call(Cmd.EXIT, 0);
    expect(() => a.bridge.exportState()).toThrow(/exited/);
  });
});
