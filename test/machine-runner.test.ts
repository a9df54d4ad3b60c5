// runMachine with tiny hand-assembled kernels (test/machine-fixtures.ts): every way a run can end
// (EXIT, timeout, guest fault, hlt, host error), the option and kernel checks that reject before
// anything runs, COM1 capture, protocol errors through real port widths, and the boot log.

import { describe, expect, it } from "vitest";
import { Cmd } from "../src/protocol/abi.js";
import { MachineConfigError, runMachine, type MachineOptions } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { Asm, EBX, EDI, LOAD_ADDR, churnKernel, imageEndFor, tinyKernel } from "./machine-fixtures.js";

const MiB = 1024 * 1024;
const platform = nodePlatform();

function run(kernel: Uint8Array, options: Partial<MachineOptions> = {}) {
  return runMachine({ kernel, platform, memoryBytes: 16 * MiB, timeoutMs: 20_000, ...options });
}

describe("runMachine: how runs end", () => {
  it("EXIT: the guest's code, counters, allocator, timings", async () => {
    const k = churnKernel(500, 0x100);
    const r = await run(k.elf, { cmdline: "hello" });
    expect(r.reason, r.message).toBe("exit");
    expect(r.exitCode).toBe(0);
    expect(r.message).toBe("guest exited with code 0");
    expect(r.error).toBeNull();
    expect(r.counters.calls).toMatchObject({ HELLO: 1, MEMMAP: 1, ALLOC_PAGES: 500, FREE_PAGES: 500, EXIT: 1 });
    expect(r.counters.statuses.OK).toBe(1003);
    expect(r.counters.totalCalls).toBe(1003);
    expect(r.memoryBytes).toBe(16 * MiB);
    const a = r.allocator!;
    a.checkInvariants();
    expect(a.freePageCount).toBe(a.managedPageCount);
    expect(r.bootLog.join("\n")).toContain("Command line: hello");
    expect(r.wallMs).toBeGreaterThan(0);
    expect(r.guestMs).toBeGreaterThan(0);
    expect(r.guestMs).toBeLessThanOrEqual(r.wallMs);
    expect(r.bridgeNsPerCall).toBeGreaterThan(0);
  });

  it("a non-zero EXIT code is reported as is", async () => {
    const r = await run(tinyKernel(new Asm().exit(0xdead).halt().assemble()).elf);
    expect(r.reason).toBe("exit");
    expect(r.exitCode).toBe(0xdead);
    expect(r.allocator).toBeNull();
  });

  it("timeout: a guest spinning forever", async () => {
    const r = await run(tinyKernel(new Asm().label("spin").jmp("spin").assemble()).elf, { timeoutMs: 300 });
    expect(r.reason).toBe("timeout");
    expect(r.exitCode).toBeNull();
    expect(r.message).toMatch(/^timeout after 300 ms/);
    expect(r.wallMs).toBeGreaterThanOrEqual(290);
  });

  it("fault: a CPU exception v86 cannot deliver (no IDT) ends the run naming EIP, Node survives", async () => {
    const code = new Asm().hc(Cmd.HELLO, 1).raw(0x0f, 0x0b).assemble(); // ud2 after a HELLO
    const k = tinyKernel(code);
    const r = await run(k.elf);
    expect(r.reason).toBe("fault");
    expect(r.exitCode).toBeNull();
    const ud2 = LOAD_ADDR + 96 + code.length - 2;
    expect(r.message).toContain(`v86 stopped at EIP 0x${ud2.toString(16)}`);
    expect(r.error).toBeInstanceOf(Error);
    expect(r.counters.calls.HELLO).toBe(1);
    expect(r.bootLog.at(-1)).toMatch(/^run ended \(fault\)/);
  });

  it("fault: hlt with interrupts off before EXIT", async () => {
    const code = new Asm().hc(Cmd.HELLO, 1).halt().assemble();
    const r = await run(tinyKernel(code).elf);
    expect(r.reason).toBe("fault");
    expect(r.message).toMatch(/^guest halted with interrupts disabled at EIP 0x1000/);
  });

  it("host-error: an exception in our code stops the run with the call that caused it", async () => {
    const k = churnKernel(100, 0);
    const r = await run(k.elf, {
      observer: {
        onCall(seq) {
          if (seq === 10) throw new Error("observer bug");
        },
      },
    });
    expect(r.reason).toBe("host-error");
    expect(r.exitCode).toBeNull();
    expect(r.message).toMatch(/^host error in (ALLOC|FREE)_PAGES\(0x[0-9a-f]+, 0x0, 0x0\), call 10 at EIP 0x[0-9a-f]+: observer bug$/);
    expect(r.error!.name).toBe("HostError");
  });

  it("host-error: a throwing guest-line callback ends the run instead of escaping into v86", async () => {
    const code = new Asm().print("one\ntwo\n").exit(0).halt().assemble();
    const r = await run(tinyKernel(code).elf, {
      onGuestLine: () => {
        throw new Error("printer broke");
      },
    });
    expect(r.reason).toBe("host-error");
    expect(r.message).toContain("printer broke");
  });
});

describe("runMachine: COM1, ports, boot log", () => {
  it("captures COM1 as the guest log and emits its lines live", async () => {
    const lines: string[] = [];
    const code = new Asm().print("hello from the guest\r\nsecond line\nno newline").exit(0).halt().assemble();
    const r = await run(tinyKernel(code).elf, { onGuestLine: (l) => lines.push(l) });
    expect(r.guestLog).toBe("hello from the guest\r\nsecond line\nno newline");
    expect(lines).toEqual(["hello from the guest", "second line", "no newline"]);
  });

  it("counts 8/16-bit reads and writes of any width as protocol errors; the guest sees all ones", async () => {
    const a = new Asm();
    a.raw(0xe4, 0xe0); // in al, 0xE0
    a.raw(0x3c, 0xff).jnz("bad"); // cmp al, 0xff
    a.raw(0x66, 0xe5, 0xe0); // in ax, 0xE0
    a.raw(0x66, 0x3d, 0xff, 0xff).jnz("bad"); // cmp ax, 0xffff
    a.raw(0xe6, 0xe0, 0x66, 0xe7, 0xe0, 0xe7, 0xe0); // out 0xE0 with al, ax, eax
    a.exit(0).halt();
    a.label("bad").exit(1).halt();
    const r = await run(tinyKernel(a.assemble()).elf);
    expect(r.exitCode).toBe(0);
    expect(r.counters.protocolErrors).toBe(5);
    expect(r.counters.totalCalls).toBe(1);
  });

  it("streams the boot log and warns when MEMMAP's image range misses a PT_LOAD segment", async () => {
    const lines: string[] = [];
    const probe = churnKernel(1, 0);
    const short = churnKernel(1, 0, 0, probe.imageEnd - 0x1000); // forgets the bss page
    const r = await run(short.elf, { onBootLogLine: (l) => lines.push(l) });
    expect(r.exitCode).toBe(0);
    expect(lines).toEqual(r.bootLog);
    const log = lines.join("\n");
    expect(log).toContain("BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable");
    expect(log).toContain("BIOS-e820: [mem 0x00000000000c0000-0x0000000000ffffff] usable");
    expect(log).toMatch(/WARNING: MEMMAP kernel image \[0x100000, 0x[0-9a-f]+\) misses PT_LOAD segment \[mem 0x0000000000100000-/);

    const whole = await run(probe.elf);
    expect(whole.bootLog.join("\n")).not.toContain("WARNING");
    const unchecked = await run(short.elf, { kernelElf: null });
    expect(unchecked.bootLog.join("\n")).not.toContain("WARNING");
  });

  it("leaves no timers or handles behind", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").length;
    await run(churnKernel(10, 0).elf);
    await run(tinyKernel(new Asm().label("spin").jmp("spin").assemble()).elf, { timeoutMs: 100 });
    await run(tinyKernel(new Asm().raw(0x0f, 0x0b).assemble()).elf);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const after = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").length;
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe("runMachine: rejected before anything runs", () => {
  const ok = churnKernel(1, 0).elf;

  it.each([
    [0, /out of range/],
    [MiB, /out of range/],
    [0x7ffe0000 + 0x20000, /out of range.*2 GiB - 128 KiB/],
    [2 ** 31, /out of range/],
    [4 * 2 ** 30, /out of range/],
    [16 * MiB + 4096, /not a multiple of 128 KiB/],
    [16.5 * MiB + 1, /out of range|not a multiple/],
    [Number.NaN, /out of range/],
  ])("memory size %d", async (bytes, message) => {
    await expect(run(ok, { memoryBytes: bytes })).rejects.toThrow(message);
    await expect(run(ok, { memoryBytes: bytes })).rejects.toBeInstanceOf(MachineConfigError);
  });

  it("accepts the largest size v86 boots, 2 GiB - 128 KiB", async () => {
    const r = await run(churnKernel(10, 0).elf, { memoryBytes: 0x7ffe0000 });
    expect(r.exitCode).toBe(0);
    expect(r.bootLog.join("\n")).toContain("BIOS-e820: [mem 0x00000000000c0000-0x000000007ffdffff] usable");
  });

  it("bad allocator options", async () => {
    await expect(run(ok, { maxOrder: 19 })).rejects.toThrow(/max order 19/);
    await expect(run(ok, { maxOrder: -1 })).rejects.toThrow(MachineConfigError);
    await expect(run(ok, { pcp: { high: 1, batch: 2 } })).rejects.toThrow(/pcp/);
    await expect(run(ok, { timeoutMs: 0 })).rejects.toThrow(/timeout/);
  });

  it("no multiboot header in the first 8 KiB", async () => {
    const noHeader = tinyKernel(new Asm().exit(0).assemble(), { withHeader: false }).elf;
    await expect(run(noHeader)).rejects.toThrow(/no multiboot header in the first 8 KiB/);
    const late = new Uint8Array(16384);
    late.set(ok);
    const dv = new DataView(late.buffer);
    dv.setUint32(84, 0, true); // wipe the real header, put one at 12 KiB
    dv.setUint32(12288, 0x1badb002, true);
    dv.setUint32(12292, 2, true);
    dv.setUint32(12296, (-(0x1badb002 + 2)) >>> 0, true);
    await expect(run(late)).rejects.toThrow(/no multiboot header in the first 8 KiB/);
    await expect(run(new Uint8Array(0))).rejects.toThrow(/empty/);
  });

  it("a kernel that does not fit in RAM, or is not ELF without the a.out kludge", async () => {
    const big = tinyKernel(new Asm().exit(0).assemble(), { bssBytes: 16 * MiB }).elf;
    await expect(run(big)).rejects.toThrow(/does not fit in 16777216 bytes of RAM/);
    const notElf = ok.slice();
    notElf[0] = 0;
    await expect(run(notElf)).rejects.toThrow(/not an ELF file/);
  });

  it("warns when the header does not ask for a memory map (and MEMMAP then fails)", async () => {
    const code = new Asm().movReg(EDI, EBX).mov(0, Cmd.MEMMAP).movReg(EBX, EDI).mov(1, LOAD_ADDR).mov(6, imageEndFor(40)).in32();
    code.movReg(EDI, EBX).mov(0, Cmd.EXIT).movReg(EBX, EDI).in32().halt(); // EXIT(status of MEMMAP)
    const r = await run(tinyKernel(code.assemble(), { headerFlags: 0 }).elf);
    expect(r.bootLog[0]).toMatch(/does not set flags bit 1/);
    expect(r.exitCode).toBe(2); // EINVAL: no flags bit 6
  });
});
