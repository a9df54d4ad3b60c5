// Page owner: every block keeps its allocation site (EIP and backtrace), call number and icount (past
// 2^31 and across the guest counter's wrap, exactly); frees keep theirs; invalid frees are reported
// with both sites (three for a double free); leaks at EXIT; live blocks at the peak, a MARK or a
// call, grouped by stack with the most frames first.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { hex8, observedGuest, presentOwnerOf } from "./observe-fixtures.js";
import { ObserveSession, PageOwner, PresentOwner, type EventHub } from "../src/observe/index.js";
import { EVENT_RING_SIZE } from "../src/observe/layout.js";
import { groupByStack } from "../src/observe/owner-report.js";
import type { BridgeObserver } from "../src/machine/index.js";
import { fakeGuest } from "./bridge-fixtures.js";

const PAGE = 4096;
const A = 0x101000; // allocation sites (EIPs of the `in`) and their callers
const A_RET = 0x105000;
const B = 0x102000;
const B_RET = 0x106000;
const F1 = 0x103000;
const F2 = 0x104000;

/** The web page's owner (with `arena`, catching up in its WebAssembly arena, as the page has it). */
function presentOwner(hub: EventHub, arena = false): PresentOwner {
  return presentOwnerOf(hub, arena ? 2 ** 14 : null).owner;
}

describe("page owner", () => {
  it("keeps instruction counts past 2^31 and across the 32-bit counter's wrap exactly, in both owners", () => {
    const o = observedGuest({ owners: true });
    const present = presentOwner(o.session.hub);
    // The guest's counter is a u32, here past 2^31, then near 2^32, then wrapped (callAt adds 1000).
    const at = (raw: number, cmd: number, arg0: number): number => {
      o.cpu.instructionCount = raw - 1000;
      const r = o.callAt(A, A_RET, cmd, arg0, 0);
      expect(r.status).toBe(Status.OK);
      return r.result;
    };
    const a = at(0x80000100, Cmd.ALLOC_PAGES, 0);
    at(0xffffff00, Cmd.FREE_PAGES, a);
    const b = at(0x600, Cmd.ALLOC_PAGES, 0);
    at(0x700, Cmd.FREE_PAGES, b);
    const owner = o.session.owner!;
    const rowOf = (r: number) => [owner.row(r).pfn * PAGE, owner.row(r).allocIcount, owner.row(r).freeIcount];
    expect(rowOf(owner.count - 2)).toEqual([a, 0x80000100, 0xffffff00]);
    expect(rowOf(owner.count - 1)).toEqual([b, 2 ** 32 + 0x600, 2 ** 32 + 0x700]);
    // The present-only owner keeps the latest record of each head frame (b's, when b reused a's frame).
    const latest = present.row(present.rowOfFrame(b / PAGE));
    expect([latest.allocIcount, latest.freeIcount]).toEqual([2 ** 32 + 0x600, 2 ** 32 + 0x700]);
    if (a !== b) expect(present.row(present.rowOfFrame(a / PAGE)).allocIcount).toBe(0x80000100);
  });

  it("reports a double free with the offending call, the allocation and the first free", () => {
    const o = observedGuest();
    const addr = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
    const allocSeq = o.g.bridge.seq - 1;
    expect(o.callAt(F1, 0x107000, Cmd.FREE_PAGES, addr, 0).status).toBe(Status.OK);
    const firstFreeSeq = o.g.bridge.seq - 1;
    expect(o.callAt(F2, 0x107100, Cmd.FREE_PAGES, addr, 0).status).toBe(Status.EDOUBLEFREE);
    const badSeq = o.g.bridge.seq - 1;
    const r = o.session.finish(o.result());
    const text = r.invalidFreesText;
    expect(text).toContain("== invalid frees: 1");
    expect(text).toContain(`EDOUBLEFREE: FREE_PAGES(0x${addr.toString(16)}, order 0) at call ${badSeq}`);
    const lines = text.split("\n").map((l) => l.trim());
    const at = (s: string): number => lines.findIndex((l) => l.startsWith(s));
    // Offending stack, then allocation, then first free, each with EIP then caller.
    expect(lines.slice(at("EDOUBLEFREE") + 1, at("EDOUBLEFREE") + 3)).toEqual([hex8(F2), hex8(0x107100)]);
    expect(lines[at("allocated as")]).toContain(`at call ${allocSeq}`);
    expect(lines.slice(at("allocated as") + 1, at("allocated as") + 3)).toEqual([hex8(A), hex8(A_RET)]);
    expect(lines[at("first freed")]).toContain(`at call ${firstFreeSeq}`);
    expect(lines.slice(at("first freed") + 1, at("first freed") + 3)).toEqual([hex8(F1), hex8(0x107000)]);
  });

  it("reports a wrong order and an interior frame with the allocation site, and a free of a never-allocated frame", () => {
    const o = observedGuest({ owners: true });
    const addr = o.callAt(B, B_RET, Cmd.ALLOC_PAGES, 1, 0).result;
    expect(o.callAt(F1, 0, Cmd.FREE_PAGES, addr, 0).status).toBe(Status.EBADORDER);
    expect(o.callAt(F2, 0, Cmd.FREE_PAGES, addr + PAGE, 1).status).toBe(Status.ENOTHEAD);
    const never = 0x1f00000;
    expect(o.callAt(F2, 0, Cmd.FREE_PAGES, never, 0).status).toBe(Status.EDOUBLEFREE);
    expect(o.callAt(F1, 0, Cmd.FREE_PAGES, addr, 1).status).toBe(Status.OK);
    const text = o.session.finish(o.result()).invalidFreesText;
    expect(text).toContain("== invalid frees: 3");
    const blocks = text.split("\n\n");
    expect(blocks[0]).toContain(`EBADORDER: FREE_PAGES(0x${addr.toString(16)}, order 0)`);
    expect(blocks[0]).toContain(hex8(F1));
    expect(blocks[0]).toContain(`allocated as pfn 0x${(addr / PAGE).toString(16)} order 1`);
    expect(blocks[0]).toContain(hex8(B));
    expect(blocks[0]).not.toContain("freed at");
    expect(blocks[1]).toContain(`ENOTHEAD: FREE_PAGES(0x${(addr + PAGE).toString(16)}, order 1)`);
    expect(blocks[1]).toContain(hex8(B_RET));
    expect(blocks[2]).toContain("the frame was never allocated");
  });

  it("reports an invalid free inside a BATCH with its record index", () => {
    const o = observedGuest();
    const addr = o.callAt(A, 0, Cmd.ALLOC_PAGES, 0, 0).result;
    o.callAt(F1, 0, Cmd.FREE_PAGES, addr, 0);
    const records = 0x109000; // inside the reserved image range
    for (let i = 0; i < 2; i++) {
      o.g.dv.setUint16(records + 16 * i, Cmd.FREE_PAGES, true);
      o.g.dv.setUint32(records + 16 * i + 4, i === 0 ? 0x1234000 : addr, true);
    }
    o.g.dv.setUint32(records + 8, 5, true); // record 0: order 5 of a free frame -> EDOUBLEFREE too
    expect(o.callAt(F2, 0, Cmd.BATCH, records, 2).status).toBe(Status.OK);
    const text = o.session.finish(o.result()).invalidFreesText;
    const seq = o.g.bridge.seq - 1;
    expect(text).toContain(`at call ${seq} record 0`);
    expect(text).toContain(`EDOUBLEFREE: FREE_PAGES(0x${addr.toString(16)}, order 0) at call ${seq} record 1`);
  });

  it("reports blocks still allocated at EXIT as leaks, grouped by stack", () => {
    const o = observedGuest();
    for (let i = 0; i < 3; i++) o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 2, 0);
    const keep = o.callAt(B, B_RET, Cmd.ALLOC_CONTIG, 5, 1, 0).result;
    const freed = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result;
    o.callAt(F1, 0, Cmd.FREE_PAGES, freed, 0);
    const r = o.session.finish(o.result());
    expect(r.leakRows.length).toBe(4);
    const leaks = r.leaksText.split("\n");
    expect(leaks[0]).toBe("== leaks at EXIT: 4 blocks, 17 frames still allocated");
    expect(leaks[1]).toBe("3 times, 12 pages:");
    expect(leaks[2]).toMatch(/^Page allocated via order 2, mask 0x0\(GFP_KERNEL\), first at call \d+ \(icount \d+\)$/);
    expect(leaks.slice(3, 5)).toEqual([` ${hex8(A)}`, ` ${hex8(A_RET)}`]);
    expect(leaks[6]).toBe("1 times, 5 pages:");
    expect(leaks[7]).toContain("alloc_contig");
    expect(keep).toBeGreaterThan(0);
    // A run that did not EXIT reports no leaks.
    const crashed = observedGuest();
    crashed.callAt(A, 0, Cmd.ALLOC_PAGES, 0, 0);
    expect(crashed.session.finish(crashed.result("timeout")).leaksText).toBe("");
  });

  it("takes live views at the peak, at a MARK and at a call, rebuilt by replay", () => {
    const o = observedGuest({ at: { kind: "peak" } });
    const addrs: number[] = [];
    for (let i = 0; i < 4; i++) addrs.push(o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 1, 0).result);
    const peakSeq = o.g.bridge.seq - 1;
    o.g.ram.set(new TextEncoder().encode("half\0"), 0x10a000);
    for (let i = 0; i < 2; i++) o.callAt(F1, 0, Cmd.FREE_PAGES, addrs[i]!, 1);
    o.callAt(F1, 0, Cmd.MARK, 0x10a000);
    const markSeq = o.g.bridge.seq - 1;
    for (let i = 2; i < 4; i++) o.callAt(F1, 0, Cmd.FREE_PAGES, addrs[i]!, 1);
    const peak = o.session.finish(o.result());
    expect(peak.atSeq).toBe(peakSeq);
    expect(peak.atRows.length).toBe(4);
    expect(peak.ownersText).toContain(`== page owners at peak (after call ${peakSeq}): 8 frames live in 4 blocks, 1 stacks`);
    expect(peak.ownersText).toContain("4 times, 8 pages:");
    // The allocator rebuilt at the peak has 8 fewer free frames than at the end.
    const free = (s: typeof peak.atSnapshot): number => s!.meta.reduce((n, m) => n + ((m >> 5) === 2 ? 2 ** (m & 31) : (m >> 5) === 3 ? 2 ** (m & 31) : 0), 0);
    expect(free(peak.finalSnapshot) - free(peak.atSnapshot)).toBe(8);

    o.session.options.at = { kind: "mark", label: "half" };
    const mark = o.session.finish(o.result());
    expect(mark.atSeq).toBe(markSeq);
    expect(mark.atRows.length).toBe(2);
    expect(mark.atTitle).toBe(`at MARK "half" (call ${markSeq})`);

    o.session.options.at = { kind: "call", seq: peakSeq - 1 };
    expect(o.session.finish(o.result()).atRows.length).toBe(3);

    o.session.options.at = { kind: "mark", label: "nope" };
    const missing = o.session.finish(o.result());
    expect(missing.atNote).toContain('no MARK "nope"');
    expect(missing.atSeq).toBe(peakSeq);
  });

  it("joins a run whose allocator already holds blocks (a restored checkpoint) without replaying it", () => {
    const session = new ObserveSession({ elf: null });
    let on = false;
    const gate: BridgeObserver = {
      attach: (b) => session.hub.attach(b),
      onCall: (...args) => (on ? session.hub.onCall(...args) : undefined),
    };
    const g = fakeGuest({ observer: gate });
    g.memmap();
    const before = g.bridge.call(Cmd.ALLOC_PAGES, 1, 0).result;
    on = true;
    g.bridge.call(Cmd.STAT, 0, 0); // the hub finds the allocator at the first call it sees
    const after = g.bridge.call(Cmd.ALLOC_PAGES, 0, 0).result;
    expect(g.bridge.call(Cmd.FREE_PAGES, before, 1).status).toBe(Status.OK);
    expect(session.hub.allocatorFresh).toBe(false);
    expect(session.owner!.untrackedFrees).toBe(1);
    const r = session.finish({ allocator: g.bridge.allocator, memoryMap: g.bridge.memoryMap, memoryBytes: g.ram.length, reason: "exit", marks: [] } as never);
    expect(r.atNote).toContain("restored from a checkpoint");
    expect(r.atSnapshot).toBe(r.finalSnapshot);
    expect(r.leakRows.map((row) => session.owner!.row(row).pfn * PAGE)).toEqual([after]);
  });
});

/**
 * Every frame the present owner names has the full owner's record of the latest block that covered
 * it; a frame it does not name was never allocated, or a later block took its block's head without
 * covering it (a present owner's row is its head frame's index). Returns the frames named.
 */
function expectFullOwnersRecords(owner: PresentOwner, full: PageOwner, buddy: { basePfn: number; frameCount: number }): number {
  let named = 0;
  for (let pfn = buddy.basePfn; pfn < buddy.basePfn + buddy.frameCount; pfn++) {
    const r = owner.rowOfFrame(pfn);
    const h = full.rowOfFrame(pfn);
    const at = `pfn 0x${pfn.toString(16)}`;
    if (r < 0) {
      if (h < 0) continue;
      const head = full.row(h).pfn;
      const later = owner.row(head - buddy.basePfn);
      expect(later.allocSeq, at).toBeGreaterThan(full.row(h).allocSeq);
      expect(pfn - head, at).toBeGreaterThanOrEqual(later.npages);
      continue;
    }
    named++;
    expect(owner.row(r), at).toEqual(full.row(h));
    expect(owner.isLive(r), at).toBe(full.isLive(h));
    expect(owner.allocStackOf(r), at).toBe(full.allocStackOf(h));
    expect(owner.npagesOf(r), at).toBe(full.npagesOf(h));
  }
  return named;
}

/** A guest observed by the full page owner and a PresentOwner side by side, after four order-0 allocations. */
function presentBesideFull(arena: boolean): { o: ReturnType<typeof observedGuest>; owner: PresentOwner; history: PageOwner; addrs: number[] } {
  const o = observedGuest();
  const owner = presentOwner(o.session.hub, arena);
  const addrs = [0, 1, 2, 3].map(() => o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result);
  expect([owner.count, owner.inArena]).toEqual([4, arena]);
  return { o, owner, history: o.session.owner!, addrs };
}

describe.each([
  ["in JavaScript", false],
  ["in its WebAssembly arena", true],
])("present-only page owner (PresentOwner, the web page's), catching up %s", (_how, arena) => {
  it("names every frame's latest block exactly as the full page owner does, with the same records", () => {
    const { o, owner, history, addrs } = presentBesideFull(arena);
    for (const a of addrs.slice(0, 3)) expect(o.callAt(F1, 0, Cmd.FREE_PAGES, a, 0).status).toBe(Status.OK);
    // A freed block keeps its record, free site included, until another block takes its head.
    const first = owner.rowOfFrame(addrs[0]! / PAGE);
    expect(owner.row(first)).toEqual(history.row(history.rowOfFrame(addrs[0]! / PAGE)));
    expect(owner.row(first).freeSeq).toBeGreaterThanOrEqual(0);
    expect(owner.isLive(first)).toBe(false);
    const big = o.callAt(B, B_RET, Cmd.ALLOC_PAGES, 3, 0).result;
    // Churn over several orders: heads are taken again by blocks of other sizes.
    for (let i = 0; i < 500; i++) expect(o.callAt(F1, 0, Cmd.FREE_PAGES, o.callAt(A, A_RET, Cmd.ALLOC_PAGES, i % 3, 0).result, i % 3).status).toBe(Status.OK);
    expect(owner.count).toBe(history.count);
    // Every frame: no record, or the record of the latest block that covered it, as the full owner has it.
    const named = expectFullOwnersRecords(owner, history, o.g.bridge.allocator!);
    expect(named).toBeGreaterThan(4);
    const live = (p: PageOwner | PresentOwner): number[] => p.liveAt(Infinity).map((r) => p.row(r).pfn).sort((x, y) => x - y);
    expect(live(owner)).toEqual(live(history));
    expect(live(owner)).toEqual([addrs[3]! / PAGE, big / PAGE].sort((x, y) => x - y));
    expect([owner.liveFrames, owner.liveBlocks]).toEqual([history.liveFrames, history.liveBlocks]);
    expect(() => owner.liveAt(3)).toThrow(/only the present/);
  });

  it("groups live blocks by stack as the full page owner does, though it lists them by frame", () => {
    const { o, owner, history, addrs } = presentBesideFull(arena);
    const firstSeq = history.row(0).allocSeq;
    const lowest = Math.min(...addrs);
    expect(o.callAt(F1, 0, Cmd.FREE_PAGES, lowest, 0).status).toBe(Status.OK);
    // The same site again: LIFO hands back the lowest frame, so frame order is no longer call order.
    expect(o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 0, 0).result).toBe(lowest);
    const groups = (p: PageOwner | PresentOwner) => groupByStack(p, p.liveAt(Infinity));
    expect(groups(owner)).toEqual(groups(history));
    expect(groups(owner)[0]!.firstSeq).toBe(lowest === addrs[0] ? history.row(1).allocSeq : firstSeq);
  });

  it("reports an invalid free as the full page owner does", () => {
    const o = observedGuest();
    const owner = presentOwner(o.session.hub, arena);
    const addr = o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 1, 0).result;
    expect(o.callAt(F1, 0x107000, Cmd.FREE_PAGES, addr, 1).status).toBe(Status.OK);
    expect(o.callAt(F2, 0x107100, Cmd.FREE_PAGES, addr, 1).status).toBe(Status.EDOUBLEFREE);
    expect(o.callAt(F2, 0x107100, Cmd.FREE_PAGES, addr + PAGE, 0).status).not.toBe(Status.OK);
    expect(owner.invalidFreeCount).toBe(2);
    expect(owner.invalidFrees).toEqual(o.session.owner!.invalidFrees);
    expect(owner.invalidFrees[0]!.allocation!.freeSeq).toBeGreaterThanOrEqual(0);
  });

  it("keeps every record when the ring has overwritten its entries", () => {
    const o = observedGuest({ owners: true });
    const owner = presentOwner(o.session.hub, arena);
    // Early on, one long-lived block and one freed at once, then well over a ring's worth of churn at
    // other sites and orders: the freed order-0 block waits on its per-CPU list, its record untouched.
    const kept = o.callAt(B, B_RET, Cmd.ALLOC_PAGES, 2, 0).result;
    const freed = o.callAt(B, B_RET, Cmd.ALLOC_PAGES, 0, 0).result;
    expect(o.callAt(F2, 0, Cmd.FREE_PAGES, freed, 0).status).toBe(Status.OK);
    const held: number[] = [];
    for (let i = 0; i < EVENT_RING_SIZE; i++) {
      held.push(o.callAt(A, A_RET, Cmd.ALLOC_PAGES, 1 + (i % 2), 0).result);
      if (held.length > 5) expect(o.callAt(F1, 0, Cmd.FREE_PAGES, held.shift()!, 1 + ((i - 5) % 2)).status).toBe(Status.OK);
    }
    const full = o.session.owner!;
    expect(full.count).toBeGreaterThan(EVENT_RING_SIZE);
    const r = owner.rowOfFrame(kept / PAGE);
    expect(owner.row(r)).toEqual(full.row(full.rowOfFrame(kept / PAGE)));
    const f = owner.rowOfFrame(freed / PAGE);
    expect(owner.row(f)).toEqual(full.row(full.rowOfFrame(freed / PAGE)));
    expect([owner.isLive(f), owner.row(f).freeSeq > 0]).toEqual([false, true]);
    expect(owner.count).toBe(full.count);
    expect([owner.liveFrames, owner.liveBlocks]).toEqual([full.liveFrames, full.liveBlocks]);
    for (const a of held) expect(owner.row(owner.rowOfFrame(a / PAGE))).toEqual(full.row(full.rowOfFrame(a / PAGE)));
    // Every record, live or freed, whose ring entries were overwritten long ago included.
    const named = expectFullOwnersRecords(owner, full, o.g.bridge.allocator!);
    expect(named).toBeGreaterThan(held.length);
  });
});
