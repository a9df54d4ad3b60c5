// images/minimal-kernel.elf (examples/minimal-kernel, docs/write-your-own-kernel.md): the smallest
// kernel that speaks the ABI boots, asks for one page, writes it, frees it and EXITs 0; the host
// sees exactly that, and keeps the kernel's image, stack and the multiboot structures reserved.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runMachine } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32 } from "../src/machine/elf.js";
import { Symbolizer } from "../src/observe/symbols.js";
import { HostLedger, MiB, judge, transcript, v86Wasm } from "./workload-fixtures.js";

const kernel = new Uint8Array(readFileSync(new URL("../images/minimal-kernel.elf", import.meta.url)));

describe("the minimal kernel", () => {
  it("says HELLO, hands over its RAM, allocates, writes and frees one page, and EXITs 0", async () => {
    const ledger = new HostLedger();
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 32 * MiB, cmdline: "anything at all", observer: ledger, wasmModule: await v86Wasm() });
    judge(r, ledger);
    expect(r.guestLog, transcript(r)).toContain("minimal: HELLO, MEMMAP, one page allocated, written, freed: ok");
    const c = r.counters.calls;
    expect([c.HELLO, c.MEMMAP, c.ALLOC_PAGES, c.FREE_PAGES, c.EXIT]).toEqual([1, 1, 1, 1, 1]);
    expect(r.counters.totalCalls).toBe(5);
    expect(ledger.peakFrames).toBe(1);
  });

  it("reports an image range covering every PT_LOAD segment (code, data, bss and stack)", async () => {
    const r = await runMachine({ kernel, platform: nodePlatform(), memoryBytes: 16 * MiB, wasmModule: await v86Wasm() });
    expect(r.exitCode, transcript(r)).toBe(0);
    // The host warns in its boot log when MEMMAP's range misses part of a loaded segment.
    expect(r.bootLog.filter((line) => /warning/i.test(line))).toEqual([]);
    const image = r.memoryMap!.reserved().find((x) => x.label === "kernel image")!;
    for (const s of readElf32(kernel).loadSegments) {
      expect(image.base).toBeLessThanOrEqual(s.paddr);
      expect(image.end).toBeGreaterThanOrEqual(s.paddr + s.memsz);
    }
    const labels = r.memoryMap!.reserved().map((x) => x.label);
    expect(labels).toEqual(expect.arrayContaining(["frame 0", "VGA and ROM hole", "multiboot info", "multiboot memory map", "kernel image"]));
  });

  it("names _start in backtraces: entry.S declares it a function symbol", () => {
    // Without `.type _start, @function` the bottom frame of every --owners backtrace was a bare address.
    const elf = readElf32(kernel);
    expect(new Symbolizer(elf).format(elf.entry + 4)).toBe("_start+0x4");
  });
});
