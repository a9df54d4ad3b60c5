// The page's event log (src/web/event-log.ts over src/observe/event-ring.ts, no DOM): events come
// back as pushed, newest first, call numbers exact past 2^32; labels (MARKs, port misuse) stay with their event and leave when the
// ring overwrites it. And the live log's cut of a line too long for its panel (live-log.ts fitLine).

import { describe, expect, it } from "vitest";
import { blankEvent, EVENT_KINDS, type AllocatorEvent } from "../src/observe/events.js";
import { EVENT_RING_SIZE, EventLog, formatEvent } from "../src/web/event-log.js";
import { fitLine } from "../src/web/live-log.js";

function event(fields: Partial<AllocatorEvent>): AllocatorEvent {
  return { ...blankEvent(), ...fields };
}

describe("event log ring", () => {
  it("gives back every kind with its fields, newest first", () => {
    const log = EventLog.forReplay((kind, _stack, eip) => `${kind}@${eip.toString(16)}`);
    EVENT_KINDS.forEach((kind, i) => log.push(event({ kind, seq: i, pfn: 0x100 + i, order: i % 3, zone: 1, status: kind === "fail" ? 3 : 0, eip: 0x1000 + i }), -1));
    expect(log.size).toBe(EVENT_KINDS.length);
    EVENT_KINDS.forEach((kind, i) => {
      const e = log.get(EVENT_KINDS.length - 1 - i);
      expect(e).toMatchObject({ kind, seq: i, pfn: 0x100 + i, order: i % 3, zone: 1, status: kind === "fail" ? 3 : 0, where: `${kind}@${(0x1000 + i).toString(16)}` });
    });
  });

  it("keeps a failed contig request's npages as the u32 it was, up to 2^32 - 1", () => {
    const log = EventLog.forReplay(() => "");
    for (const npages of [5, 0x80000001, 0xffffffff]) log.push(event({ kind: "fail", seq: 1, npages, status: 1 }), -1);
    expect([log.get(2).npages, log.get(1).npages, log.get(0).npages]).toEqual([5, 0x80000001, 0xffffffff]);
  });

  it("keeps call numbers exact past 2^31 and 2^32, and prints them so", () => {
    const log = EventLog.forReplay(() => "");
    const seqs = [2 ** 31 + 3, 2 ** 32 + 5, 2 ** 40 + 7];
    for (const seq of seqs) log.push(event({ kind: "alloc", seq, pfn: 0x100, order: 0, npages: 1, zone: 1 }), -1);
    expect([log.get(2).seq, log.get(1).seq, log.get(0).seq]).toEqual(seqs);
    expect(formatEvent(log.get(1))).toContain(`#${2 ** 32 + 5} `);
  });

  it("keeps labels with their events and drops them when the ring overwrites the slot", () => {
    const log = EventLog.forReplay(() => "");
    log.push(event({ kind: "mark", seq: 1, label: "phase:one" }), -1);
    log.push(event({ kind: "protocol-error", seq: 2, status: -1, label: "port write" }), -1);
    log.push(event({ kind: "alloc", seq: 3, pfn: 7, order: 0 }), -1);
    expect([log.get(0).label, log.get(1).label, log.get(2).label]).toEqual(["", "port write", "phase:one"]);
    // Fill the ring once around: the MARK's slot now holds an alloc, which must not inherit its label.
    for (let i = 0; i < EVENT_RING_SIZE - 2; i++) log.push(event({ kind: "alloc", seq: 4 + i, pfn: i, order: 0 }), -1);
    expect(log.size).toBe(EVENT_RING_SIZE);
    expect(log.get(EVENT_RING_SIZE - 1).kind).toBe("protocol-error");
    expect(log.get(EVENT_RING_SIZE - 1).label).toBe("port write");
    log.push(event({ kind: "free", seq: EVENT_RING_SIZE + 5, pfn: 9, order: 0 }), -1);
    const oldest = log.get(EVENT_RING_SIZE - 1);
    expect(oldest.kind).toBe("alloc");
    expect(oldest.label).toBe("");
    expect(log.get(0).label).toBe("");
    expect(log.get(0).kind).toBe("free");
  });
});

describe("a log line", () => {
  it("puts the owner in the same column for an alloc, a free, a split and a merge", () => {
    const base = { seq: 1234, record: -1, pfn: 0x1400, order: 0, npages: 1, zone: 1, status: 0, label: "", where: "fill_run" };
    const lines = [
      formatEvent({ ...base, kind: "alloc", gfp: 0x2 }),
      formatEvent({ ...base, kind: "free", gfp: -1 }),
      formatEvent({ ...base, kind: "split", gfp: -1 }),
      formatEvent({ ...base, kind: "merge", gfp: -1 }),
    ];
    expect(lines[0]).toContain("GFP_HIGHMEM");
    expect(new Set(lines.map((l) => l.indexOf("fill_run"))).size).toBe(1);
  });
});

describe("a live log line cut to its panel", () => {
  const long = { kind: "alloc" as const, seq: 12345678, record: 3, pfn: 0x12345, order: 3, npages: 8, zone: 1, gfp: 0x100, status: 0, label: "", where: "pagetable_map_range" };
  const line = { text: formatEvent(long), where: long.where };

  it("is itself when it fits", () => {
    expect(fitLine(line, line.text.length)).toBe(line.text);
  });

  it("keeps its owner whole and its start, and loses the middle", () => {
    expect(line.text.length).toBeGreaterThan(69);
    for (let chars = 50; chars < line.text.length; chars++) {
      const cut = fitLine(line, chars);
      expect(cut.length).toBeLessThanOrEqual(chars);
      expect(cut.endsWith(`… ${long.where}`)).toBe(true);
      expect(line.text.startsWith(cut.slice(0, cut.indexOf("…")))).toBe(true);
    }
  });

  it("cuts the end when the owner would leave too little of the rest", () => {
    const cut = fitLine(line, 30);
    expect(cut).toBe(`${line.text.slice(0, 29)}…`);
    expect(fitLine({ text: line.text, where: "" }, 40)).toBe(`${line.text.slice(0, 39)}…`);
  });
});
