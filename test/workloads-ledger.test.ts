// HostLedger, the host-side judge of every workload test (test/workload-fixtures.ts), must itself
// be able to fail: fed calls a broken allocator could answer, it reports each broken rule.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { MemoryMap } from "../src/mem/index.js";
import type { HypercallBridge } from "../src/machine/index.js";
import { HostLedger, MiB } from "./workload-fixtures.js";

const { ALLOC_PAGES, FREE_PAGES, ALLOC_CONTIG, FREE_CONTIG } = Cmd;
const OK = Status.OK;

/** A ledger attached to a fake 32 MiB guest whose kernel image is reserved at [1 MiB, 2 MiB). */
function ledger(): { ledger: HostLedger; ram: Uint8Array } {
  const map = new MemoryMap();
  map.addUsable(0, 0xa0000);
  map.addUsable(0x100000, 31 * MiB);
  map.reserve(0, 0x1000, "frame 0");
  map.reserve(0x100000, MiB, "kernel image");
  const ram = new Uint8Array(32 * MiB);
  const l = new HostLedger();
  l.attach({ memoryMap: map, guestRam: ram } as unknown as HypercallBridge);
  return { ledger: l, ram };
}

describe("the host ledger", () => {
  it("accepts a clean run: blocks in usable RAM, each freed once", () => {
    const { ledger: l } = ledger();
    l.onCall(0, ALLOC_PAGES, 3, 0, 0, 0x400000, OK);
    l.onCall(1, ALLOC_CONTIG, 5, 1, 0x1, 0x8000, OK);
    l.onRecord(2, 0, ALLOC_PAGES, 0, 0, 0x300000, OK);
    expect(l.liveFrames).toBe(8 + 5 + 1);
    l.onCall(3, FREE_PAGES, 0x400000, 3, 0, 0, OK);
    l.onCall(4, FREE_CONTIG, 0x8000, 5, 0, 0, OK);
    l.onRecord(5, 0, FREE_PAGES, 0x300000, 0, 0, OK);
    expect(l.problems).toEqual([]);
    expect(l.liveFrames).toBe(0);
    expect(l.peakFrames).toBe(14);
  });

  it("ignores calls that did not end OK", () => {
    const { ledger: l } = ledger();
    l.onCall(0, ALLOC_PAGES, 0, 0, 0, 0x100000, Status.ENOMEM);
    l.onCall(1, FREE_PAGES, 0x5000, 0, 0, 0, Status.EDOUBLEFREE);
    expect(l.problems).toEqual([]);
    expect(l.blocks).toBe(0);
  });

  it.each([
    ["a frame handed out twice", [[ALLOC_PAGES, 1, 0, 0, 0x400000], [ALLOC_PAGES, 0, 0, 0, 0x401000]], /handed out twice/],
    ["a reserved frame", [[ALLOC_PAGES, 0, 0, 0, 0x180000]], /reserved \(kernel image\)/],
    ["frame 0", [[ALLOC_PAGES, 0, 0, 0, 0]], /misaligned|frame 0/],
    ["the VGA hole", [[ALLOC_PAGES, 0, 0, 0, 0xa0000]], /not usable RAM/],
    ["a misaligned order-2 block", [[ALLOC_PAGES, 2, 0, 0, 0x401000]], /misaligned/],
    ["GFP_DMA above 16 MiB", [[ALLOC_CONTIG, 4, 1, 0x1, 0x1000000]], /GFP_DMA above 16 MiB/],
    ["a range across the DMA zone's end", [[ALLOC_CONTIG, 4, 1, 0, 0xffe000]], /crosses a zone boundary/],
  ] as const)("reports %s", (_name, calls, message) => {
    const { ledger: l } = ledger();
    calls.forEach(([cmd, a0, a1, a2, result], seq) => l.onCall(seq, cmd, a0, a1, a2, result, OK));
    expect(l.problems.join("\n")).toMatch(message);
  });

  it("reports a GFP_ZERO block that is not zero when handed out", () => {
    const { ledger: l, ram } = ledger();
    ram[0x500000 + 4095] = 1;
    l.onCall(0, ALLOC_PAGES, 0, 0x100, 0, 0x500000, OK);
    expect(l.problems.join("\n")).toMatch(/GFP_ZERO block has byte 0x1 at 0x500fff/);
  });

  it("reports a free the host accepted for frames the guest did not own", () => {
    const { ledger: l } = ledger();
    l.onCall(0, ALLOC_PAGES, 0, 0, 0, 0x400000, OK);
    l.onCall(1, FREE_PAGES, 0x400000, 1, 0, 0, OK);
    expect(l.problems.join("\n")).toMatch(/did not own/);
  });
});
