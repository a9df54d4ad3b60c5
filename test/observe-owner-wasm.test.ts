// The web page's page-owner catch-up in WebAssembly (src/observe/owner-wasm.ts) against the same
// owner catching up in JavaScript, fed the same events: the rings hold the same bytes (the arena's
// written by its own store), and every frame's record, the counts and the invalid frees come out
// equal. On a real guest's runs (churn laps the ring many times; contiguous
// ranges, BATCH and hostile requests cover the events the arena leaves to JavaScript) and on events
// no allocator tells (blocks past either end of the table, straddling its end, of no frames), on a
// guest whose memory starts at 16 MiB, so that a frame's table index is not its pfn.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { Cmd, Status } from "../src/protocol/abi.js";
import { blankEvent } from "../src/observe/events.js";
import { EventHub } from "../src/observe/event-hub.js";
import { EVENT_RING_SIZE, EventRing } from "../src/observe/event-ring.js";
import { OwnerArena } from "../src/observe/owner-wasm.js";
import { PresentOwner } from "../src/observe/present-owner.js";
import { codeRanges } from "../src/observe/stack-walk.js";
import { MiB } from "./bridge-fixtures.js";
import { observedGuest, presentOwnerOf } from "./observe-fixtures.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);
const PAGE = 4096;
const A = 0x101000;
const A_RET = 0x105000;
const F1 = 0x103000;

/** Two present owners on one hub, each with its own ring: one in an arena of maxFrames, one not. */
function twinOwners(hub: EventHub, maxFrames: number): { js: PresentOwner; wasm: PresentOwner; rings: [EventRing, EventRing] } {
  const js = presentOwnerOf(hub, null);
  const wasm = presentOwnerOf(hub, maxFrames);
  return { js: js.owner, wasm: wasm.owner, rings: [js.ring, wasm.ring] };
}

/** The two rings hold the same entries, byte for byte (the arena's written by its store). */
function expectSameRings(rings: [EventRing, EventRing]): void {
  const bytes = (a: Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(rings[1].total).toBe(rings[0].total);
  expect(bytes(rings[1].ints).equals(bytes(rings[0].ints))).toBe(true);
  expect(bytes(rings[1].floats).equals(bytes(rings[0].floats))).toBe(true);
}

/**
 * The owners' raw tables (private fields, read here only) hold the same bytes: the records' ints and
 * float64s and every frame's row, so the arena writes no field the JavaScript catch-up leaves alone.
 */
function expectSameTables(js: PresentOwner, wasm: PresentOwner): void {
  type Tables = { ints: Int32Array; nums: Float64Array; frameRow: Int32Array };
  const bytes = (a: Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const [a, b] = [js as unknown as Tables, wasm as unknown as Tables];
  for (const field of ["ints", "nums", "frameRow"] as const) {
    expect(b[field].length, field).toBe(a[field].length);
    expect(bytes(b[field]).equals(bytes(a[field])), field).toBe(true);
  }
}

/** Every frame's record, the counts and the invalid frees of the two owners are the same; returns the frames named. */
function expectSameOwners(js: PresentOwner, wasm: PresentOwner, firstPfn: number, endPfn: number): number {
  let named = 0;
  for (let pfn = firstPfn; pfn < endPfn; pfn++) {
    const r = js.rowOfFrame(pfn);
    expect(wasm.rowOfFrame(pfn), `pfn 0x${pfn.toString(16)}`).toBe(r);
    if (r < 0) continue;
    named++;
    expect(wasm.row(r), `pfn 0x${pfn.toString(16)}`).toEqual(js.row(r));
    expect(wasm.isLive(r)).toBe(js.isLive(r));
  }
  const counts = (o: PresentOwner) => [o.count, o.liveFrames, o.liveBlocks, o.untrackedFrees, o.invalidFreeCount];
  expect(counts(wasm)).toEqual(counts(js));
  expect(wasm.invalidFrees).toEqual(js.invalidFrees);
  expect(wasm.liveAt(Infinity)).toEqual(js.liveAt(Infinity));
  return named;
}

describe("the page owner's catch-up in its WebAssembly arena", () => {
  it("keeps what the JavaScript catch-up keeps, for events past either end of its table included", () => {
    const o = observedGuest({}, 32 * MiB, [{ base: 16 * MiB, length: 16 * MiB, type: 1 }]);
    const hub = o.session.hub;
    const { js, wasm, rings } = twinOwners(hub, 2 ** 14);
    const buddy = o.g.bridge.allocator!;
    expect(buddy.basePfn).toBe((16 * MiB) / PAGE);
    const held: number[] = [];
    for (let i = 0; i < 300; i++) {
      const order = i % 4;
      const r = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, order, 0);
      expect(r.status).toBe(Status.OK);
      held.push(r.result, order);
      if (i % 3 === 0) {
        const [addr, ord] = held.splice(0, 2) as [number, number];
        expect(o.callAt(F1, 0, Cmd.FREE_PAGES, addr, ord).status).toBe(Status.OK);
      }
    }
    const contig = o.callAt(A, A_RET, Cmd.ALLOC_CONTIG, 700, 1, 0).result;
    expect(contig).not.toBe(0);
    // Invalid frees (protocol errors the arena leaves to JavaScript): a double free, an interior frame.
    const [victim, order] = held.splice(0, 2) as [number, number];
    expect(o.callAt(F1, 0, Cmd.FREE_PAGES, victim, order).status).toBe(Status.OK);
    expect(o.callAt(F1, 0, Cmd.FREE_PAGES, victim, order).status).toBe(Status.EDOUBLEFREE);
    expect(o.callAt(F1, 0, Cmd.FREE_CONTIG, contig + PAGE, 1).status).not.toBe(Status.OK);
    // Blocks no allocator would tell: below the table, at and straddling its end, and of no frames
    // inside a live block (its frames must go on naming that block).
    const end = buddy.basePfn + buddy.frameCount;
    expect(js.rowOfFrame(buddy.basePfn)).toBe(0);
    for (const [pfn, npages] of [[buddy.basePfn - 1, 1], [end, 1], [end - 1, 2], [contig / PAGE + 1, 0], [end + 4096, 1]] as const) {
      for (const ring of rings) ring.push({ ...blankEvent("alloc"), seq: 1e6 + pfn, pfn, npages, order: npages === 1 ? 0 : -1 }, -1);
    }
    expect(o.callAt(F1, 0, Cmd.FREE_CONTIG, contig, 700).status).toBe(Status.OK);
    expectSameRings(rings);
    const named = expectSameOwners(js, wasm, buddy.basePfn - 2, end + 2);
    expectSameTables(js, wasm);
    expect(named).toBeGreaterThan(700);
    expect([js.inArena, wasm.inArena]).toEqual([false, true]);
  });

  it("breaks as the JavaScript catch-up does on an allocation at a live block's head", () => {
    const o = observedGuest();
    const { js, wasm, rings } = twinOwners(o.session.hub, 2 ** 14);
    const addr = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 1, 0).result;
    for (const ring of rings) ring.push({ ...blankEvent("alloc"), seq: 99, pfn: addr / PAGE, npages: 1, order: 0 }, -1);
    for (const owner of [js, wasm]) expect(() => owner.count).toThrow(/allocated while already live/);
  });

  it("is no arena when the memory is refused (the owner then keeps its tables in JavaScript)", () => {
    const Memory = WebAssembly.Memory;
    (WebAssembly as { Memory: unknown }).Memory = function refuse(): never {
      throw new RangeError("WebAssembly.Memory(): could not allocate memory");
    };
    try {
      expect(OwnerArena.create(2 ** 20)).toBeNull();
    } finally {
      (WebAssembly as { Memory: unknown }).Memory = Memory;
    }
    expect(OwnerArena.create(16)).not.toBeNull();
  });

  it("falls back to JavaScript when the guest's frames do not fit its tables", () => {
    const o = observedGuest();
    const { js, wasm } = twinOwners(o.session.hub, 16);
    for (let i = 0; i < 20; i++) o.callAt(A, A_RET, Cmd.ALLOC_PAGES, i % 3, 0);
    const buddy = o.g.bridge.allocator!;
    expect(expectSameOwners(js, wasm, buddy.basePfn, buddy.basePfn + buddy.frameCount)).toBeGreaterThan(20);
    expect(wasm.inArena).toBe(false);
  });
});

describe.skipIf(!existsSync(IMAGE))("the arena's catch-up on a real guest", () => {
  const kernel = existsSync(IMAGE) ? new Uint8Array(readFileSync(IMAGE)) : new Uint8Array(0);
  for (const cmdline of ["workload=churn ops=90000 seed=1", "workload=contig ops=60 seed=3", "workload=batch ops=80 seed=5", "workload=hostile seed=2"]) {
    it(`keeps every record and count the JavaScript catch-up keeps (${cmdline})`, async () => {
      const hub = new EventHub({ code: codeRanges(readElf32(kernel)) });
      const { js, wasm, rings } = twinOwners(hub, (32 * MiB) / PAGE);
      const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * MiB, cmdline, observer: hub, timeoutMs: 120_000 });
      expect(result.reason, result.guestLog).toBe("exit");
      const buddy = hub.allocator!;
      expectSameRings(rings);
      expectSameOwners(js, wasm, buddy.basePfn, buddy.basePfn + buddy.frameCount);
      expectSameTables(js, wasm);
      expect(wasm.inArena).toBe(true);
      if (cmdline.includes("churn")) expect(rings[1].total).toBeGreaterThan(EVENT_RING_SIZE);
      if (cmdline.includes("hostile")) expect(wasm.invalidFreeCount).toBeGreaterThan(0);
    });
  }
});
