// The port itself: narrow accesses are protocol errors, an exception from our own code stops the
// bridge without reaching the emulator, moved RAM views (v86 growing its wasm memory) are picked up
// by the bridge and by the allocator's GFP_ZERO, observers see every call, and the run control's
// gated handlers tell their gate exactly at its call.

import { describe, expect, it } from "vitest";
import { Cmd, Status } from "../src/protocol/abi.js";
import { HostError, type HypercallBridge } from "../src/machine/index.js";
import { MiB, bootedGuest, expectStatus, fakeGuest } from "./bridge-fixtures.js";

const PAGE = 4096;

describe("port widths", () => {
  it("8/16-bit reads return all ones and writes are ignored, each counted as a protocol error", () => {
    const g = bootedGuest();
    const before = g.bridge.allocator!.freePageCount;
    const h = g.bridge.portHandlers;
    g.reg32[0] = Cmd.ALLOC_PAGES;
    expect(h.read8()).toBe(0xff);
    expect(h.read16()).toBe(0xffff);
    h.write8(1);
    h.write16(2);
    h.write32(Cmd.ALLOC_PAGES);
    const c = g.bridge.counters.snapshot();
    expect(c.protocolErrors).toBe(5);
    expect(c.totalCalls).toBe(1); // only MEMMAP
    expect(g.bridge.allocator!.freePageCount).toBe(before);
  });

  it("reads arguments as unsigned 32-bit values from the signed register view", () => {
    const g = bootedGuest();
    g.reg32.set([Cmd.ALLOC_PAGES, 0, 0, -1]); // EAX, ECX, EDX, EBX = 0xffffffff (order)
    expect(g.bridge.portHandlers.read32()).toBe(0);
    expect(g.reg32[3]).toBe(Status.EINVAL);
  });

  it("returns addresses as the int32 the CPU expects and leaves other registers alone", () => {
    const g = bootedGuest({ ramBytes: 64 * MiB });
    g.reg32.set([Cmd.ALLOC_PAGES, 0x11111111, 0x22222222, 0, 0x33333333, 0x44444444, 0x55555555, 0x66666666]);
    g.reg32[3] = 0; // order
    g.reg32[1] = 0; // gfp
    const eax = g.bridge.portHandlers.read32();
    expect(eax | 0).toBe(eax);
    expect(eax % PAGE).toBe(0);
    expect(Array.from(g.reg32)).toEqual([Cmd.ALLOC_PAGES, 0, 0x22222222, Status.OK, 0x33333333, 0x44444444, 0x55555555, 0x66666666]);
  });
});

describe("gated handlers (run control)", () => {
  // RunGate's handlers: read32 answers the call as the bridge's own does, then tells the gate once
  // the calls answered reach its pauseAt, for the full and the bare transport alike.
  for (const bareTransport of [false, true]) {
    it(`${bareTransport ? "bare" : "full"} transport: the gate is told exactly at pauseAt, after the call was answered`, () => {
      const g = bootedGuest({ bareTransport });
      const halts: number[] = [];
      const gate = {
        pauseAt: 3,
        halt(): void {
          halts.push(g.bridge.seq);
          // Answered before the gate hears of it: the status is in EBX already.
          expect(g.reg32[3]).toBe(Status.OK);
          gate.pauseAt = Infinity;
        },
      };
      const h = g.bridge.gatedHandlers(gate);
      expect(h.read8).toBe(g.bridge.portHandlers.read8);
      const addrs: number[] = [];
      for (let i = 0; i < 4; i++) {
        g.reg32.set([Cmd.ALLOC_PAGES, 0, 0, 0]); // order 0, GFP_KERNEL
        addrs.push(h.read32() >>> 0);
        expect(halts, `after call ${g.bridge.seq}`).toEqual(g.bridge.seq >= 3 ? [3] : []);
      }
      expect(g.bridge.seq).toBe(5); // MEMMAP and four allocations
      expect(addrs.every((a) => a !== 0 && a % PAGE === 0)).toBe(true);
    });
  }
});

describe("host errors", () => {
  function expectStopped(bridge: HypercallBridge, errors: Error[], pattern: RegExp): void {
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(HostError);
    expect(errors[0]!.message).toMatch(pattern);
    expect(bridge.state).toBe("failed");
    expect(bridge.fatalError).toBe(errors[0]);
    expect(bridge.call(Cmd.STAT, 0)).toEqual({ result: 0, status: Status.ESTATE });
    expect(bridge.call(Cmd.HELLO, 1)).toEqual({ result: 0, status: Status.ESTATE });
    expect(errors.length).toBe(1);
  }

  it("an exception from the allocator stops the bridge and is reported, never thrown", () => {
    const errors: Error[] = [];
    const g = bootedGuest({ onFatal: (e) => errors.push(e), where: () => "EIP 0x100123" });
    g.bridge.allocator!.failPredicate = () => {
      throw new Error("boom");
    };
    const r = g.bridge.call(Cmd.ALLOC_PAGES, 2, 0x100);
    expect(r).toEqual({ result: 0, status: Status.ESTATE });
    expectStopped(g.bridge, errors, /^host error in ALLOC_PAGES\(0x2, 0x100, 0x0\), call 1 at EIP 0x100123: boom$/);
    expect(g.bridge.bootLog.at(-1)).toBe(errors[0]!.message);
  });

  it("an impossible answer from the allocator is an invariant failure, not a guest status", () => {
    const errors: Error[] = [];
    const g = bootedGuest({ onFatal: (e) => errors.push(e) });
    g.bridge.allocator!.tryAllocPages = () => 0x1234;
    g.bridge.call(Cmd.ALLOC_PAGES, 0, 0);
    expectStopped(g.bridge, errors, /invariant: allocator returned 0x1234/);
  });

  it("an observer that throws stops the run the same way", () => {
    const errors: Error[] = [];
    const g = bootedGuest({
      onFatal: (e) => errors.push(e),
      observer: {
        onCall(seq) {
          if (seq === 2) throw new Error("observer failed");
        },
      },
    });
    expect(g.bridge.call(Cmd.STAT, 0).status).toBe(Status.OK); // seq 1
    g.bridge.call(Cmd.STAT, 1);
    expectStopped(g.bridge, errors, /STAT.*observer failed/);
  });

  it("abort() from outside a call (a failed view refresh) stops it too, once", () => {
    const errors: Error[] = [];
    const g = bootedGuest({ onFatal: (e) => errors.push(e) });
    g.bridge.abort(new Error("views"), "while refreshing guest memory views");
    g.bridge.abort(new Error("again"), "twice");
    expectStopped(g.bridge, errors, /^host error while refreshing guest memory views: views$/);
  });

  it("a throwing onFatal handler does not escape either", () => {
    const g = bootedGuest({
      onFatal: () => {
        throw new Error("handler");
      },
    });
    g.bridge.allocator!.failPredicate = () => {
      throw new Error("boom");
    };
    expect(() => g.bridge.portHandlers.read32()).not.toThrow();
  });
});

describe("moved views (v86 replaced its wasm memory)", () => {
  it("the bridge and GFP_ZERO use the new RAM and registers, not the detached ones", () => {
    const g = bootedGuest({ ramBytes: 16 * MiB });
    const ram2 = new Uint8Array(new ArrayBuffer(20 * MiB), 4 * MiB, 16 * MiB);
    ram2.set(g.ram);
    ram2.fill(0xcc);
    const regs2 = new Int32Array(8);
    g.bridge.setViews(ram2, regs2);
    expect(g.bridge.guestRam).toBe(ram2);
    g.ram.fill(0x77); // the old view must not be written any more

    regs2.set([Cmd.ALLOC_PAGES, 0x100, 0, 2]); // EAX, ECX = GFP_ZERO, EDX, EBX = order 2
    const addr = g.bridge.portHandlers.read32() >>> 0;
    expect(regs2[3]).toBe(Status.OK);
    expect(ram2.subarray(addr, addr + 4 * PAGE).every((b) => b === 0)).toBe(true);
    expect(g.ram.subarray(addr, addr + 4 * PAGE).every((b) => b === 0x77)).toBe(true);
  });

  it("refuses a view of another size", () => {
    const g = fakeGuest({ ramBytes: 16 * MiB });
    expect(() => g.bridge.setViews(new Uint8Array(8 * MiB), new Int32Array(8))).toThrow(/setViews/);
  });
});

describe("observers and timing", () => {
  it("see every call and record in order, with what the guest got", () => {
    const calls: number[][] = [];
    const records: number[][] = [];
    let attached: HypercallBridge | null = null;
    const g = fakeGuest({
      observer: {
        attach: (b) => (attached = b),
        onCall: (...args) => calls.push(args),
        onRecord: (...args) => records.push(args),
      },
    });
    expect(attached).toBe(g.bridge);
    g.bridge.call(Cmd.HELLO, 2);
    g.memmap();
    g.dv.setUint16(0x30000, Cmd.STAT, true);
    g.dv.setUint32(0x30004, 1, true);
    g.bridge.call(Cmd.BATCH, 0x30000, 1);
    const managed = g.bridge.allocator!.managedPageCount;
    expect(calls[0]).toEqual([0, Cmd.HELLO, 2, 0, 0, 1, Status.EVERSION]);
    expect(calls[1]!.slice(0, 2)).toEqual([1, Cmd.MEMMAP]);
    expect(calls[1]!.slice(5)).toEqual([managed, Status.OK]);
    expect(records).toEqual([[2, 0, Cmd.STAT, 1, 0, managed, Status.OK]]);
    expect(calls[2]).toEqual([2, Cmd.BATCH, 0x30000, 1, 0, 1, Status.OK]);
  });

  it("reads the clock at the first call and at EXIT only", () => {
    let reads = 0;
    const g = bootedGuest({ now: () => ++reads * 10 });
    for (let i = 0; i < 100; i++) expectStatus(g, Status.OK, Cmd.STAT, 0);
    g.bridge.call(Cmd.EXIT, 0);
    expect(reads).toBe(2);
    expect(g.bridge.firstCallMs).toBe(10);
    expect(g.bridge.exitMs).toBe(20);
  });
});
