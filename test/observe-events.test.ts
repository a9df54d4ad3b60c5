// The typed event stream: each kind with the fields it promises (pfn, order, zone, gfp, status, EIP,
// call number, record, icount), in the order the allocator did things, and consistent with the
// allocator's own counts.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { GFP } from "../src/mem/index.js";
import { copyEvent, type AllocatorEvent } from "../src/observe/index.js";
import { EVENT_KINDS, eventKindCode } from "../src/observe/events.js";
import * as layout from "../src/observe/layout.js";
import { observedGuest } from "./observe-fixtures.js";

function collect(o: ReturnType<typeof observedGuest>): AllocatorEvent[] {
  const events: AllocatorEvent[] = [];
  o.session.hub.subscribe({ onEvent: (e) => events.push(copyEvent(e)) });
  return events;
}

describe("event stream", () => {
  it("the hub's numeric kind codes (layout.ts) are the kinds' indices in EVENT_KINDS", () => {
    const codes = Object.fromEntries(Object.entries(layout).filter(([name]) => name.startsWith("KIND_")));
    expect(Object.keys(codes)).toHaveLength(EVENT_KINDS.length);
    for (const kind of EVENT_KINDS) {
      const name = "KIND_" + kind.toUpperCase().replace("-", "_");
      expect(codes[name], name).toBe(eventKindCode(kind));
      expect(EVENT_KINDS[eventKindCode(kind)]).toBe(kind);
    }
  });

  it("an allocation: splits, then alloc, stamped with the call", () => {
    const o = observedGuest();
    const events = collect(o);
    const addr = o.callAt(0x101234, 0x105000, Cmd.ALLOC_PAGES, 2, GFP.HIGHMEM | GFP.ZERO).result;
    const seq = o.g.bridge.seq - 1;
    const alloc = events.filter((e) => e.kind === "alloc");
    expect(alloc).toEqual([
      { kind: "alloc", seq, record: -1, cmd: Cmd.ALLOC_PAGES, pfn: addr / 4096, order: 2, npages: 4, zone: 1, gfp: 0x102, status: Status.OK, eip: 0x101234, icount: o.cpu.instructionCount, injected: false, label: "" },
    ]);
    const splits = events.filter((e) => e.kind === "split");
    expect(splits.length).toBeGreaterThan(0);
    expect(events[events.length - 1]!.kind).toBe("alloc");
    for (const s of splits) expect(s.seq).toBe(seq);
    // Splitting hands halves down to the order asked for: the last split leaves order-2 halves.
    expect(splits[splits.length - 1]!.order).toBe(2);
    expect(o.session.counters.data(10).perOrder.splits.reduce((a, b) => a + b, 0)).toBe(splits.length);
  });

  it("frees, per-CPU drains and merges", () => {
    const o = observedGuest();
    const events = collect(o);
    const addrs: number[] = [];
    for (let i = 0; i < 400; i++) addrs.push(o.callAt(0x101000, 0, Cmd.ALLOC_PAGES, 0, 0).result);
    for (const a of addrs) o.callAt(0x102000, 0, Cmd.FREE_PAGES, a, 0);
    const frees = events.filter((e) => e.kind === "free");
    expect(frees.length).toBe(400);
    expect(frees[0]).toMatchObject({ pfn: addrs[0]! / 4096, order: 0, npages: 1, gfp: -1, eip: 0x102000, cmd: Cmd.FREE_PAGES });
    const drains = events.filter((e) => e.kind === "pcp-drain");
    expect(drains.length).toBeGreaterThan(0);
    expect(drains[0]).toMatchObject({ zone: 1, npages: 63, pfn: -1 });
    const merges = events.filter((e) => e.kind === "merge");
    expect(merges.length).toBeGreaterThan(0);
    // Every merge happens inside a free call that drained.
    const drainSeqs = new Set(drains.map((d) => d.seq));
    for (const m of merges) expect(drainSeqs.has(m.seq)).toBe(true);
  });

  it("failures, marks and protocol errors", () => {
    const o = observedGuest({}, 16 * 2 ** 20);
    const events = collect(o);
    let status = Status.OK;
    let allocs = 0;
    while (status === Status.OK) {
      status = o.callAt(0x101000, 0, Cmd.ALLOC_PAGES, 10, GFP.DMA).status;
      allocs++;
    }
    expect(status).toBe(Status.ENOMEM);
    const fail = events.find((e) => e.kind === "fail")!;
    expect(fail).toMatchObject({ order: 10, npages: 1024, gfp: GFP.DMA, status: Status.ENOMEM, injected: false, cmd: Cmd.ALLOC_PAGES });
    expect(o.session.warn.reports[0]).toMatch(/^buddy86: page allocation failure: order:10, mode:0x1\(GFP_DMA\), call \d+/);
    expect(o.session.warn.reports[0]).toMatch(/\nDMA: (\d+\*\d+kB ){10}\d+\*4096kB = \d+kB/);

    o.g.ram.set(new TextEncoder().encode("phase:one\0"), 0x10a000);
    o.callAt(0x101100, 0, Cmd.MARK, 0x10a000);
    expect(events[events.length - 1]).toMatchObject({ kind: "mark", label: "phase:one", cmd: Cmd.MARK, eip: 0x101100 });

    o.callAt(0x101200, 0, Cmd.ALLOC_PAGES, 99, 0);
    expect(events[events.length - 1]).toMatchObject({ kind: "protocol-error", status: Status.EINVAL, order: 99, cmd: Cmd.ALLOC_PAGES });
    o.callAt(0x101300, 0, 0x3e);
    expect(events[events.length - 1]).toMatchObject({ kind: "protocol-error", status: Status.ENOSYS, cmd: 0x3e });
    o.g.bridge.portHandlers.read16();
    expect(events[events.length - 1]).toMatchObject({ kind: "protocol-error", cmd: -1, npages: 2, status: -1, label: "16-bit port read", seq: o.g.bridge.seq });
    o.g.bridge.portHandlers.write8(1);
    expect(events[events.length - 1]).toMatchObject({ kind: "protocol-error", cmd: -1, label: "port write" });
    expect(o.session.counters.data(10).protocolErrorEvents).toBe(4);
    expect(allocs).toBeGreaterThan(1);
  });

  it("warn_alloc is rate-limited: a burst per interval of calls, then suppressed and counted", () => {
    const o = observedGuest({}, 16 * 2 ** 20);
    while (o.callAt(0x101000, 0, Cmd.ALLOC_PAGES, 10, GFP.DMA).status === Status.OK);
    for (let i = 0; i < 30; i++) o.callAt(0x101000, 0, Cmd.ALLOC_PAGES, 10, GFP.DMA);
    expect(o.session.warn.reports.length).toBe(10);
    expect(o.session.warn.suppressed).toBe(21);
  });

  it("the end-of-run replay check passes and the final state matches the allocator", () => {
    const o = observedGuest();
    for (let i = 0; i < 50; i++) o.callAt(0x101000, 0, Cmd.ALLOC_PAGES, i % 4, 0);
    const r = o.session.finish(o.result());
    expect(r.finalSnapshot!.meta).toEqual(o.g.bridge.allocator!.meta);
    expect(r.reportsText).toContain(o.g.bridge.allocator!.buddyinfo());
  });
});
