// The hypercall port answers v86's 32-bit `in` before v86's own port table (src/host/v86-cpu.ts,
// registerPort): every other port must still reach its v86 device, or v86's empty handler, exactly
// as before. A tiny kernel reads the PCI host bridge's ID through 0xCF8/0xCFC, an empty port, and
// then makes hypercalls; any wrong value EXITs with the step's number.

import { describe, expect, it } from "vitest";
import { Cmd } from "../src/protocol/abi.js";
import { runMachine } from "../src/machine/index.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { Asm, EAX, EBX, EDX, tinyKernel } from "./machine-fixtures.js";

const PCI_HOST_BRIDGE_ID = 0x12378086; // v86's i440FX: device 0x1237, vendor 0x8086

describe("the hypercall port's fast path", () => {
  it("leaves 32-bit reads of every other port to v86", async () => {
    const a = new Asm();
    a.mov(EDX, 0xcf8).mov(EAX, 0x80000000).raw(0xef); // out dx, eax: PCI config address, bus 0 dev 0 reg 0
    a.mov(EDX, 0xcfc).raw(0xed); // in eax, dx: PCI config data
    a.cmp(EAX, PCI_HOST_BRIDGE_ID).jnz("fail1");
    a.raw(0xe5, 0xe1); // in eax, 0xE1: a port nobody claims
    a.cmp(EAX, 0xffffffff).jnz("fail2");
    a.hc(Cmd.HELLO, 1).cmp(EBX, 0).jnz("fail3");
    a.cmp(EAX, 1).jnz("fail3");
    a.mov(EDX, 0xcfc).raw(0xed).cmp(EAX, PCI_HOST_BRIDGE_ID).jnz("fail4"); // and again after a hypercall
    a.exit(0).halt();
    for (const step of [1, 2, 3, 4]) a.label(`fail${step}`).exit(step).halt();
    const r = await runMachine({ kernel: tinyKernel(a.assemble()).elf, platform: nodePlatform(), memoryBytes: 16 * 2 ** 20 });
    expect(r.reason, r.message).toBe("exit");
    expect(r.exitCode, "the step that read a wrong value").toBe(0);
    expect(r.counters.calls.HELLO).toBe(1);
    expect(r.counters.protocolErrors).toBe(0);
  });
});
