// Page owner against a real v86 CPU with a tiny hand-assembled kernel: a double free reported with its
// three sites, and a leaked block allocated while paging is on, whose backtrace the host can only read
// by walking the guest's page directory (EBP is a virtual address that maps to a frame below 4 MiB
// through a 4 MiB page; read as a physical address it would lie past the end of RAM).

import { describe, expect, it } from "vitest";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { Cmd } from "../src/protocol/abi.js";
import { ObserveSession } from "../src/observe/index.js";
import { Asm, EAX, EBP, EBX, ECX, EDI, ESI, LOAD_ADDR, imageEndFor, tinyKernel } from "./machine-fixtures.js";
import { hex8 } from "./observe-fixtures.js";

const PD = LOAD_ADDR + 0x2000; // page directory, inside the image's bss
const FRAME = LOAD_ADDR + 0x3000; // a fake stack frame, also in the bss
const BSS = 0x4000;
const STACK_VA = 0x40000000 + FRAME; // PDE 0x100 maps VA 0x40000000.. to PA 0 with a 4 MiB page
const RET = LOAD_ADDR + 0x60; // the "return address" in the fake frame: inside the image

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Returns the code and the offsets of the `in` instructions A (alloc), F1, F2 (frees) and L (leak). */
function program(imageEnd: number): { code: Uint8Array; at: Record<string, number> } {
  const a = new Asm();
  const at: Record<string, number> = {};
  const call = (name: string, cmd: number, setArgs: () => void): void => {
    a.mov(EAX, cmd);
    setArgs();
    at[name] = a.bytes.length;
    a.in32();
  };
  const store = (addr: number, value: number): void => void a.raw(0xc7, 0x05, ...le32(addr), ...le32(value));
  a.movReg(EDI, EBX);
  a.hc(Cmd.HELLO, 1);
  a.mov(EAX, Cmd.MEMMAP).movReg(EBX, EDI).mov(ECX, LOAD_ADDR).mov(ESI, imageEnd).in32();
  a.mov(EBP, 0);
  call("A", Cmd.ALLOC_PAGES, () => a.mov(EBX, 0).mov(ECX, 0));
  a.movReg(EDI, EAX);
  call("F1", Cmd.FREE_PAGES, () => a.movReg(EBX, EDI).mov(ECX, 0));
  call("F2", Cmd.FREE_PAGES, () => a.movReg(EBX, EDI).mov(ECX, 0));
  // Paging on: PDE 0 identity-maps the first 4 MiB (code, data), PDE 0x100 maps 1 GiB to it too.
  store(PD, 0x83);
  store(PD + 0x100 * 4, 0x83);
  store(FRAME, 0);
  store(FRAME + 4, RET);
  a.raw(0x0f, 0x20, 0xe0, 0x0d, ...le32(0x10), 0x0f, 0x22, 0xe0); // cr4 |= PSE
  a.mov(EAX, PD).raw(0x0f, 0x22, 0xd8); // cr3 = PD
  a.raw(0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0); // cr0 |= PG
  a.mov(EBP, STACK_VA);
  call("L", Cmd.ALLOC_PAGES, () => a.mov(EBX, 2).mov(ECX, 0));
  a.raw(0x0f, 0x20, 0xc0, 0x25, ...le32(0x7fffffff), 0x0f, 0x22, 0xc0); // paging off
  a.exit(0).halt();
  return { code: a.assemble(), at };
}

describe("page owner on a v86 guest", () => {
  it("reports a double free's three sites and a leak whose stack is read through the guest's page tables", async () => {
    const probe = program(0);
    const { code, at } = program(imageEndFor(probe.code.length, BSS));
    const kernel = tinyKernel(code, { bssBytes: BSS });
    const entry = new DataView(kernel.elf.buffer).getUint32(24, true);
    const eip = (name: string): number => entry + at[name]!;
    const session = new ObserveSession({ elf: readElf32(kernel.elf) });
    const result = await runMachine({ kernel: kernel.elf, platform: nodePlatform(), memoryBytes: 32 * 2 ** 20, observer: session.hub, timeoutMs: 60_000 });
    expect(result.reason, result.message).toBe("exit");
    const r = session.finish(result);

    const invalid = r.invalidFreesText;
    expect(invalid).toContain("EDOUBLEFREE: FREE_PAGES(");
    expect(invalid).toContain(` ${hex8(eip("F2"))}\nallocated as pfn`);
    expect(invalid).toMatch(new RegExp(`allocated as pfn 0x[0-9a-f]+ order 0 at call \\d+ \\(icount \\d+\\):\\n ${hex8(eip("A"))}\\nfirst freed at call \\d+ \\(icount \\d+\\):\\n ${hex8(eip("F1"))}\\n`));

    expect(r.leakRows.length).toBe(1);
    expect(r.leaksText.split("\n").slice(0, 5)).toEqual([
      "== leaks at EXIT: 1 blocks, 4 frames still allocated",
      "1 times, 4 pages:",
      expect.stringMatching(/^Page allocated via order 2, mask 0x0\(GFP_KERNEL\), first at call \d+ \(icount \d+\)$/),
      ` ${hex8(eip("L"))}`,
      ` ${hex8(RET)}`,
    ]);
  });
});
