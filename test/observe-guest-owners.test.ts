// Page owners of the real guest: stacks walked in guest memory and named from the image's .symtab
// (random_run <- ... <- workload_run <- kmain), the EIP of every allocation on an `in` instruction of
// the image, and a moment chosen with --at call:N rebuilt by replay exactly as the allocator was at
// that call.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine, symbolize } from "../src/machine/index.js";
import { ObserveSession, takeSnapshot, type AllocatorSnapshot } from "../src/observe/index.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);

describe.skipIf(!existsSync(IMAGE))("page owners of the bundled guest", () => {
  it("names allocation stacks and rebuilds any call's state", async () => {
    const kernel = new Uint8Array(readFileSync(IMAGE));
    const elf = readElf32(kernel);
    const probeSeq = 1500;
    const session = new ObserveSession({ elf, at: { kind: "call", seq: probeSeq } });
    let live: AllocatorSnapshot | null = null;
    const eips = new Set<number>();
    session.hub.subscribe({
      onEvent: (e) => {
        if (e.kind === "alloc") eips.add(e.eip);
      },
      onCallEnd: (seq) => {
        if (seq === probeSeq) {
          const b = session.hub.bridge!;
          live = takeSnapshot(b.allocator!, b.memoryMap, b.guestRam.length, seq);
        }
      },
    });
    const result = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, cmdline: "workload=random ops=3000 seed=3", observer: session.hub, timeoutMs: 120_000 });
    expect(result.reason, result.guestLog).toBe("exit");
    const r = session.finish(result);

    // Every allocation's EIP is an `in` instruction (ED: in eax, dx; E5: in eax, imm8) inside a function.
    for (const eip of eips) {
      const seg = elf.loadSegments.find((s) => eip >= s.vaddr && eip < s.vaddr + s.filesz)!;
      expect([0xed, 0xe5], `opcode at 0x${eip.toString(16)}`).toContain(kernel[seg.offset + eip - seg.vaddr]);
      expect(symbolize(elf, eip)).toMatch(/^\w+\+0x[0-9a-f]+$/);
    }
    // The moment: the replayed allocator equals the one snapshotted live at that call.
    expect(live).not.toBeNull();
    expect(r.atSeq).toBe(probeSeq);
    expect(r.atSnapshot!.meta).toEqual(live!.meta);
    // Owners: grouped by stack, most frames first, named frames down to kmain.
    const text = r.ownersText;
    expect(text).toMatch(new RegExp(`^== page owners after call ${probeSeq}: \\d+ frames live in \\d+ blocks, \\d+ stacks\\n`));
    const groups = text.split("\n\n");
    // (The hypercall wrappers may be inlined: the stack then starts in random_run itself.)
    expect(groups[0]).toMatch(/\d+ times, \d+ pages:\nPage allocated via order 0\.\.\d+, mask 0x2\(GFP_HIGHMEM\), first at call \d+ \(icount \d+\)\n( hc_alloc_pages\+0x[0-9a-f]+\n)? random_run\+0x[0-9a-f]+\n( \w+\+0x[0-9a-f]+\n)* workload_run\+0x[0-9a-f]+\n kmain\+0x[0-9a-f]+\n _start\+0x[0-9a-f]+$/);
    expect(text).toMatch(/ live_init\+0x[0-9a-f]+\n random_run\+0x/);
    const pages = [...text.matchAll(/(\d+) times, (\d+) pages:/g)].map((m) => Number(m[2]));
    expect(pages).toEqual([...pages].sort((a, b) => b - a));
    // The guest frees everything: no leaks, no invalid frees; the peak came before the end.
    expect(r.leaksText).toBe("");
    expect(r.invalidFreesText).toBe("");
    expect(session.owner!.peakFrames).toBeGreaterThan(0);
    expect(session.sym.ownerOf(session.hub.depot, session.owner!.allocStackOf(session.owner!.count - 1))).toBe("random_run");
  });
});
