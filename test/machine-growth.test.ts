// v86 grows its wasm memory mid-run (its own heap grows as it runs the guest), detaching every view
// over the old buffer. This guest runs a GFP_ZERO alloc/dirty/free loop from many distinct code
// pages until that happens, and checks from both sides that zeroing still reaches guest RAM after
// the growth: the guest tests the bytes it got, the host tests them in its fresh view. An observer's
// registers (EIP, CR0, the instruction counter) read the fresh state too.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { runMachine, type HypercallBridge } from "../src/machine/index.js";
import type { GuestRegisters } from "../src/machine/bridge.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { Asm, EAX, EBP, EBX, ECX, EDI, ESI, LOAD_ADDR, tinyKernel } from "./machine-fixtures.js";

const PAGE = 4096;
const GFP_ZERO = 0x100;

/** `codePages` copies of the loop, each in its own 4 KiB page, each run `iterations` times. */
function growthKernel(codePages: number, iterations: number): Uint8Array {
  const a = new Asm();
  a.movReg(EDI, EBX);
  a.mov(EAX, Cmd.MEMMAP).movReg(EBX, EDI).mov(ECX, LOAD_ADDR).mov(ESI, LOAD_ADDR + (codePages + 2) * PAGE).in32();
  a.cmp(EBX, 0).jnz("fail");
  for (let p = 0; p < codePages; p++) {
    a.jmp(`page${p}`);
    while ((a.bytes.length + 96) % PAGE !== 0) a.raw(0x90); // 96: the code's offset in the file
    a.label(`page${p}`).mov(EBP, iterations);
    a.label(`loop${p}`);
    a.hc(Cmd.ALLOC_PAGES, 0, GFP_ZERO);
    a.cmp(EBX, 0).jnz("fail");
    const off = (p * 61) % PAGE; // a different byte each page
    a.cmpByteAtEax(off, 0).jnz("fail");
    a.storeByteAtEax(off, 0xa5);
    a.movReg(EBX, EAX).mov(EAX, Cmd.FREE_PAGES).mov(ECX, 0).in32();
    a.cmp(EBX, 0).jnz("fail");
    a.dec(EBP).jnz(`loop${p}`);
  }
  a.exit(0).halt();
  a.label("fail").exit(1).halt();
  return tinyKernel(a.assemble()).elf;
}

describe("wasm memory growth", () => {
  it("views are rebuilt and GFP_ZERO still zeroes guest RAM afterwards", async () => {
    let bridge: HypercallBridge | null = null;
    let view: Uint8Array | null = null;
    let viewChanges = 0;
    let checkedAfterGrowth = 0;
    let dirtyAfterAlloc = 0;
    let guest: GuestRegisters | null = null;
    let lastIcount = 0;
    const badRegisters: string[] = [];
    const r = await runMachine({
      kernel: growthKernel(1400, 80),
      platform: nodePlatform(),
      memoryBytes: 32 * 1024 * 1024,
      timeoutMs: 120_000,
      observer: {
        attach: (b) => (bridge = b),
        attachGuest: (g) => (guest = g),
        onCall(seq, cmd, _a0, _a1, _a2, result, status) {
          // EIP is the call's `in eax, 0xE0` (bytes E5 E0), in protected mode, and the counter never goes back.
          const { eip, cr0, instructionCount } = guest!;
          const code = bridge!.guestRam;
          if (code[eip] !== 0xe5 || code[eip + 1] !== 0xe0 || (cr0 & 1) !== 1 || instructionCount < lastIcount)
            badRegisters.push(`call ${seq}: eip 0x${eip.toString(16)} cr0 0x${cr0.toString(16)} icount ${instructionCount}`);
          lastIcount = instructionCount;
          if (cmd !== Cmd.ALLOC_PAGES || status !== Status.OK) return;
          const ram = bridge!.guestRam;
          if (ram !== view) {
            if (view !== null) viewChanges++;
            view = ram;
          }
          for (let i = result; i < result + PAGE; i++) {
            if (ram[i] !== 0) {
              dirtyAfterAlloc++;
              break;
            }
          }
          if (viewChanges > 0) checkedAfterGrowth++;
        },
      },
    });
    expect(r.reason, r.message).toBe("exit");
    expect(r.exitCode, "the guest saw a dirty GFP_ZERO page").toBe(0);
    expect(r.memoryGrowths, "v86 did not grow its memory: make the guest bigger").toBeGreaterThanOrEqual(1);
    expect(viewChanges).toBe(r.memoryGrowths);
    expect(dirtyAfterAlloc).toBe(0);
    expect(badRegisters.slice(0, 3)).toEqual([]);
    expect(checkedAfterGrowth).toBeGreaterThan(1000);
    expect(r.counters.calls.ALLOC_PAGES).toBe(1400 * 80);
    r.allocator!.checkInvariants();
  });
});
