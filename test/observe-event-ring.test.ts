// The event ring (src/observe/event-ring.ts) and its reader, the present-only page owner: the packed
// kind word keeps each field whatever a guest passes; call numbers past 2^31 and 2^32 come back
// exact; an invalid free is reported against the records as they stood at its call, even when the
// block was taken again before anyone asked; a broken catch-up keeps reporting its own error.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { blankEvent } from "../src/observe/events.js";
import { EventRing, cmdOf, kindOf, orderOf, packKind, statusOf, zoneOf } from "../src/observe/event-ring.js";
import { EVENT_KINDS, type EventHub } from "../src/observe/index.js";
import { EVENT_RING_HALF, EVENT_RING_SIZE } from "../src/observe/layout.js";
import { PresentOwner } from "../src/observe/present-owner.js";
import { STATUSES } from "../src/protocol/abi.js";
import { observedGuest, presentOwnerOf } from "./observe-fixtures.js";

const PAGE = 4096;
const A = 0x101000;
const A_RET = 0x105000;
const F1 = 0x103000;
const F2 = 0x104000;

/** The web page's owner and its ring; with `arena`, both in a WebAssembly arena (as the page has them). */
function presentOwner(hub: EventHub, arena: boolean): { ring: EventRing; owner: PresentOwner } {
  return presentOwnerOf(hub, arena ? 2 ** 14 : null);
}

describe("the event ring's packed kind word", () => {
  it("gives back every field, and keeps a guest's out-of-range order or command out of the others", () => {
    const cases: [number, number, number, number, number][] = [
      [0, 0, -1, -1, -1],
      [7, 9, 18, 2, Cmd.FREE_PAGES],
      [7, -1, -1, -1, -1], // a port misuse: no status
      [7, Status.EINVAL, 300, -1, Cmd.ALLOC_PAGES],
      [7, Status.EINVAL, 0xfffffffe, 1, 0xdeadbeef],
      [7, Status.ENOSYS!, 0, 0, 253],
      [7, Status.ENOSYS!, 0, 0, 254],
    ];
    for (const [code, status, order, zone, cmd] of cases) {
      const p = packKind(code, status, order, zone, cmd);
      const what = JSON.stringify([code, status, order, zone, cmd]);
      expect(kindOf(p), what).toBe(code);
      expect(statusOf(p), what).toBe(status);
      expect(orderOf(p), what).toBe(order >= -1 && order < 254 ? order : -1);
      expect(zoneOf(p), what).toBe(zone);
      expect(cmdOf(p), what).toBe(cmd >= -1 && cmd < 254 ? cmd : 254);
    }
  });

  it("has room for every kind and status, and catches its readers up twice per ring", () => {
    expect(EVENT_KINDS.length).toBeLessThanOrEqual(16);
    for (const s of STATUSES) expect(s.code, s.name).toBeLessThan(15);
    expect(2 * EVENT_RING_HALF).toBe(EVENT_RING_SIZE);
  });
});

describe.each([
  ["in JavaScript", false],
  ["in its WebAssembly arena", true],
])("the present-only page owner as the ring's reader, catching up %s", (_how, arena) => {
  it("keeps call numbers past 2^31 and 2^32 exact, as the full page owner does", () => {
    const o = observedGuest({ owners: true });
    const { owner } = presentOwner(o.session.hub, arena);
    const full = o.session.owner!;
    const bridge = o.g.bridge as unknown as { calls: number };
    const seen: number[] = [];
    // Calls go one at a time; these jumps stand in for the calls of a long run.
    for (const start of [2 ** 31 - 2, 2 ** 32 - 2, 2 ** 32 + 2 ** 31 + 5]) {
      bridge.calls = start;
      const a = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
      expect(o.callAt(F1, 0, Cmd.FREE_PAGES, a, 0).status).toBe(Status.OK);
      const b = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
      const row = owner.row(owner.rowOfFrame(b / PAGE));
      expect(row).toEqual(full.row(full.rowOfFrame(b / PAGE)));
      seen.push(row.allocSeq);
    }
    expect(seen).toEqual([2 ** 31, 2 ** 32, 2 ** 32 + 2 ** 31 + 7]);
    expect(owner.inArena).toBe(arena);
    expect([owner.liveBlocks, owner.liveAt(Infinity).length]).toEqual([full.liveBlocks, 3]);
  });

  it("reports an invalid free against the block it named then, though the frame was taken again before anyone asked", () => {
    const o = observedGuest({ owners: true });
    const { owner } = presentOwner(o.session.hub, arena);
    const addr = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
    expect(o.callAt(F1, 0x107000, Cmd.FREE_PAGES, addr, 0).status).toBe(Status.OK);
    expect(o.callAt(F2, 0x107100, Cmd.FREE_PAGES, addr, 0).status).toBe(Status.EDOUBLEFREE);
    // The same frame, given out again (LIFO): its record is now a live block's.
    expect(o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result).toBe(addr);
    expect(owner.invalidFrees).toEqual(o.session.owner!.invalidFrees);
    const [bad] = owner.invalidFrees;
    expect(bad!.status).toBe(Status.EDOUBLEFREE);
    expect(bad!.allocation!.freeSeq).toBeGreaterThanOrEqual(0);
    expect(owner.isLive(owner.rowOfFrame(addr / PAGE))).toBe(true);
  });

  it("reports the invariant a catch-up broke on every later query, not another one", () => {
    const o = observedGuest();
    const { ring, owner } = presentOwner(o.session.hub, arena);
    // Not yet applied when the bad entry comes: the catch-up applies it, then fails.
    const addr = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
    // A free of that block with another size: a bug of ours the owner must not take as a record.
    ring.push({ ...blankEvent("free"), seq: 99, pfn: addr / PAGE, order: 1, npages: 2 }, -1);
    expect(() => owner.rowOfFrame(addr / PAGE)).toThrow(/free of pfn .* matches no live block/);
    // Applying the allocation again would say "allocated while already live".
    expect(() => owner.liveAt(Infinity)).toThrow(/free of pfn .* matches no live block/);
    expect(() => owner.count).toThrow(/free of pfn .* matches no live block/);
  });
});

describe("the event ring's own bookkeeping", () => {
  it("forgets a label exactly when its entry is overwritten, and catches its readers up at the end of every half ring", () => {
    const ring = new EventRing(null);
    const caughtUpAt: number[] = [];
    ring.addReader({ catchUp: () => caughtUpAt.push(ring.total) });
    const split = { ...blankEvent("split"), seq: 1, pfn: 5, order: 0, npages: 1 };
    ring.push(split, -1);
    ring.push({ ...blankEvent("mark"), seq: 2, label: "first" }, -1); // event 1
    ring.push({ ...blankEvent("mark"), seq: 3, label: "second" }, -1); // event 2
    // A label stored just before a half ring ends (the catch-up is due at the very next event).
    for (let n = 3; n < EVENT_RING_HALF - 2; n++) ring.push(split, -1);
    ring.push({ ...blankEvent("mark"), seq: 3, label: "late" }, -1); // event HALF - 2
    for (let n = EVENT_RING_HALF - 1; n < EVENT_RING_SIZE + 1; n++) ring.push(split, -1);
    // Events 0 .. SIZE: event SIZE overwrote event 0's slot; events 1 and 2 keep theirs.
    expect(ring.labelAt(ring.slotOf(1))).toBe("first");
    expect(ring.labelAt(ring.slotOf(2))).toBe("second");
    ring.push(split, -1); // event SIZE + 1 overwrites event 1
    expect(ring.labelAt(ring.slotOf(1))).toBe("");
    expect(ring.labelAt(ring.slotOf(2))).toBe("second");
    ring.push({ ...blankEvent("mark"), seq: 4, label: "third" }, -1); // event SIZE + 2, in event 2's slot
    expect(ring.labelAt(ring.slotOf(2))).toBe("third");
    for (let k = 0; k < EVENT_RING_SIZE; k++) ring.push(split, -1);
    expect(ring.labelAt(ring.slotOf(2))).toBe("");
    expect(ring.total).toBe(2 * EVENT_RING_SIZE + 3);
    expect(caughtUpAt).toEqual([1, 2, 3, 4].map((k) => k * EVENT_RING_HALF));
  });

  it("forgets labels on time without readers too (a replay's ring)", () => {
    const ring = new EventRing(null);
    const split = { ...blankEvent("split"), seq: 1, pfn: 5, order: 0, npages: 1 };
    ring.push({ ...blankEvent("mark"), seq: 2, label: "only" }, -1);
    for (let n = 1; n < EVENT_RING_SIZE; n++) ring.push(split, -1);
    expect(ring.labelAt(ring.slotOf(0))).toBe("only");
    ring.push(split, -1);
    expect(ring.labelAt(ring.slotOf(0))).toBe("");
  });
});
