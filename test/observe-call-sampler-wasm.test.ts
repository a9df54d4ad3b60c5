// The stack memo's two recent walks in WebAssembly (call-sampler-wasm.ts), on their own: a walk put
// in must be found while every word of its trail holds, and must not be found once any word
// changes, for another (EIP, EBP), after forget(), or when its trail would read outside guest RAM.
// (test/observe-stack-walk.test.ts runs the whole memo with them against fresh walks; a recent walk
// that is never found leaves those answers right, only slower, so the hits are checked here.) Also
// its registers and counter, and the arena's block writer writing a page request with them.

import { describe, expect, it } from "vitest";
import { EVENT_RING_HALF, SAMPLER_FRAMES } from "../src/observe/layout.js";
import type { GuestStateInWasm } from "../src/host/v86-cpu.js";
import { CallSampler, STACK_UNKNOWN } from "../src/observe/call-sampler-wasm.js";
import { EventRing, packBlock } from "../src/observe/event-ring.js";
import { OwnerArena } from "../src/observe/owner-wasm.js";
import { RECORD_FROM_COMMAND, WRITTEN_APPLIED, WRITTEN_DUE, WRITTEN_PENDING } from "../src/observe/ring-writer-wasm.js";
import { EF_ICOUNT, EF_SEQ, EF_STRIDE, E_EIP, E_GFP, E_KIND, E_NPAGES, E_PFN, E_RECORD, E_STACK, E_STRIDE, KIND_ALLOC, KIND_FREE } from "../src/observe/layout.js";
import { F_ALLOC_ICOUNT, F_ALLOC_SEQ, F_FREE_ICOUNT, F_FREE_SEQ, F_STRIDE, I_ALLOC_STACK, I_FREE_STACK, I_GFP, I_NPAGES, I_ORDER, I_PFN, I_STRIDE } from "../src/observe/layout.js";
import { GFP } from "../src/mem/index.js";
import { Cmd } from "../src/protocol/abi.js";

const RAM_OFFSET = 0x20000;
// The CPU state's words, below RAM as in v86's memory.
const REG32 = 0x1000, PREVIOUS_IP = 0x1040, ICOUNT = 0x1044, CR = 0x1080;
const RAM_BYTES = 0x100000;
const EIP = 0x100abc;
const PAGE = 4096;

/** The layout of a test memory: RAM at RAM_OFFSET, the CPU state's words below it. */
function stateIn(memory: WebAssembly.Memory, ramBytes = RAM_BYTES): GuestStateInWasm {
  return { memory, ramOffset: RAM_OFFSET, ramBytes, reg32Offset: REG32, previousIpOffset: PREVIOUS_IP, instructionCounterOffset: ICOUNT, crOffset: CR };
}

/** Guest RAM at RAM_OFFSET of a fresh memory, with frames at `base`, `base` + 0x40, ... linked. */
function guest(base: number, frames: number): { words: Int32Array; recent: CallSampler; trail: Int32Array } {
  const memory = new WebAssembly.Memory({ initial: (RAM_OFFSET + RAM_BYTES) / 0x10000 + 1 });
  const words = new Int32Array(memory.buffer, RAM_OFFSET, RAM_BYTES / 4);
  const trail = new Int32Array(2 * SAMPLER_FRAMES);
  for (let k = 0; k < frames; k++) {
    const fp = base + 0x40 * k;
    words[fp >> 2] = fp + 0x40;
    words[(fp >> 2) + 1] = 0x101000 + k;
    trail[2 * k] = fp + 0x40;
    trail[2 * k + 1] = 0x101000 + k;
  }
  const recent = CallSampler.create(stateIn(memory));
  if (recent === null) throw new Error("no WebAssembly");
  return { words, recent, trail };
}

describe("the call sampler's recent walks", () => {
  it.each([0, 1, 2, 5, 6, 7, SAMPLER_FRAMES])("finds a walk of %i frames while its trail holds, and not once any word changes", (frames) => {
    const { words, recent, trail } = guest(0x90000, frames);
    for (const walk of [0, 1]) {
      recent.put(walk, EIP, 0x90000, 40 + walk, frames, trail, 0);
      expect(recent.find(EIP, 0x90000)).toBe(40 + walk);
      expect(recent.find(EIP + 1, 0x90000)).toBe(-1);
      expect(recent.find(EIP, 0x90040)).toBe(-1);
      for (let i = 0; i < 2 * frames; i++) {
        const at = ((0x90000 + 0x40 * (i >> 1)) >> 2) + (i & 1);
        const old = words[at]!;
        words[at] = old ^ 0x10;
        expect(recent.find(EIP, 0x90000)).toBe(-1);
        words[at] = old;
        expect(recent.find(EIP, 0x90000)).toBe(40 + walk);
      }
      // Words past the trail are not the walk's.
      words[(0x90000 + 0x40 * frames) >> 2] = 0x12345678;
      expect(recent.find(EIP, 0x90000)).toBe(40 + walk);
      recent.forget();
      expect(recent.find(EIP, 0x90000)).toBe(-1);
    }
  });

  it("keeps two walks apart, each replaced only by a put of its own", () => {
    const { recent, trail } = guest(0x90000, 3);
    recent.put(0, EIP, 0x90000, 7, 3, trail, 0);
    recent.put(1, EIP + 4, 0x90040, 8, 2, trail, 2);
    expect(recent.find(EIP, 0x90000)).toBe(7);
    expect(recent.find(EIP + 4, 0x90040)).toBe(8);
    recent.put(1, EIP + 8, 0x90080, 9, 1, trail, 4);
    expect(recent.find(EIP, 0x90000)).toBe(7);
    expect(recent.find(EIP + 4, 0x90040)).toBe(-1);
    expect(recent.find(EIP + 8, 0x90080)).toBe(9);
  });

  it("never finds a walk whose trail reads outside guest RAM", () => {
    // Frames ending at RAM's last two words are inside; one word further is not, nor is EBP >= 2^31.
    const top = RAM_BYTES - 8;
    const { words, recent } = guest(0, 0);
    words[top >> 2] = 0;
    words[(top >> 2) + 1] = 0x101000;
    const inside = Int32Array.from([0, 0x101000, ...new Array(2 * SAMPLER_FRAMES - 2).fill(0)]);
    recent.put(0, EIP, top, 5, 1, inside, 0);
    expect(recent.find(EIP, top)).toBe(5);
    // The frame at RAM's last word would read its return address from the memory past RAM: with the
    // trail put as those two words are, it is still not found.
    words[(top + 4) >> 2] = 0x90000;
    new Int32Array(words.buffer, RAM_OFFSET + RAM_BYTES, 1)[0] = 0x101000;
    const straddling = Int32Array.from([0x90000, 0x101000, ...new Array(2 * SAMPLER_FRAMES - 2).fill(0)]);
    recent.put(0, EIP, top + 4, 6, 1, straddling, 0);
    expect(recent.find(EIP, top + 4)).toBe(-1);
    // Frame pointers outside RAM, each with the memory there holding the trail's words (so only the
    // range check keeps them from being found): past RAM's end, and just below RAM (EBP -8).
    const around = (byte: number, values: number[]): void => new Int32Array(words.buffer, RAM_OFFSET + byte, values.length).set(values);
    around(RAM_BYTES, [0, 0x101000]);
    around(-8, [0, 0x101000]);
    for (const ebp of [RAM_BYTES, -8, 0x80000000 | 0]) {
      recent.put(0, EIP, ebp, 6, 1, inside, 0);
      expect(recent.find(EIP, ebp)).toBe(-1);
    }
    // A second frame whose words (at the first frame's saved EBP) lie past RAM's end, holding its trail.
    const beyond = Int32Array.from([RAM_BYTES, 0x101000, 0, 0x101001, ...new Array(2 * SAMPLER_FRAMES - 4).fill(0)]);
    around(RAM_BYTES, [0, 0x101001]);
    words[top >> 2] = RAM_BYTES;
    words[(top >> 2) + 1] = 0x101000;
    recent.put(1, EIP, top, 7, 2, beyond, 0);
    expect(recent.find(EIP, top)).toBe(-1);
    // With one frame the same words are found: only the second frame's read was outside.
    recent.put(1, EIP, top, 7, 1, beyond, 0);
    expect(recent.find(EIP, top)).toBe(7);
  });

  it("is refused for a RAM that does not fit its memory", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    expect(CallSampler.create({ ...stateIn(memory, 0x10000), ramOffset: 0x8000 })).toBeNull();
    expect(CallSampler.create({ ...stateIn(memory, 0x10000), ramOffset: 0 })).not.toBeNull();
    expect(CallSampler.create({ ...stateIn(memory, 0x8000), ramOffset: 0, crOffset: 0x10000 })).toBeNull();
    expect(CallSampler.create({ ...stateIn(memory, 0x8000), ramOffset: 0, reg32Offset: 0x1002 })).toBeNull();
  });
});

describe("the call sampler's registers and instruction count", () => {
  /** A sampler over a fresh memory, with a view of its state words. */
  function sampler(): { s: CallSampler; at: (byte: number) => Int32Array; words: Int32Array } {
    const memory = new WebAssembly.Memory({ initial: (RAM_OFFSET + RAM_BYTES) / 0x10000 + 1 });
    const s = CallSampler.create(stateIn(memory))!;
    return { s, at: (byte) => new Int32Array(memory.buffer, byte, 1), words: new Int32Array(memory.buffer, RAM_OFFSET, RAM_BYTES / 4) };
  }

  /** A one-frame stack at EBP 0x90000 (return address 0x101000), put as recent walk 0 with handle 12. */
  function oneFrameWalk(s: CallSampler, words: Int32Array): void {
    const trail = new Int32Array(2 * SAMPLER_FRAMES);
    words[0x90000 >> 2] = 0;
    words[(0x90000 >> 2) + 1] = 0x101000;
    trail[1] = 0x101000;
    s.put(0, EIP, 0x90000, 12, 1, trail, 0);
  }

  /**
   * The arena's block writer over a sampler whose call is at EIP with the one-frame walk's stack,
   * paging off; its zones: frames from pfn 0x100, DMA below index 0x10, Normal below 0x20, HighMem above.
   */
  function writerAtCall() {
    const { s, at, words } = sampler();
    oneFrameWalk(s, words);
    at(PREVIOUS_IP)[0] = EIP;
    at(REG32 + 4 * 5)[0] = 0x90000;
    at(CR)[0] = 1;
    const arena = OwnerArena.create(256)!;
    const writer = arena.blockWriter(s.exports);
    writer.zones(0x100, 0x10, 0x20);
    return { at, arena, writer };
  }

  it("reads EAX, the EIP of the `in`, CR0 and the counter of a call once, whatever changes before its next seq", () => {
    const { s, at } = sampler();
    at(REG32)[0] = 5; // EAX
    at(PREVIOUS_IP)[0] = 0x100abc;
    at(CR)[0] = 0x11;
    at(ICOUNT)[0] = 1000;
    s.sample(7);
    expect([s.cmd, s.eip, s.cr0, s.icount]).toEqual([5, 0x100abc, 0x11, 1000]);
    at(REG32)[0] = 6;
    at(PREVIOUS_IP)[0] = 0x100def;
    at(ICOUNT)[0] = 2000;
    s.sample(7);
    expect([s.cmd, s.eip, s.icount]).toEqual([5, 0x100abc, 1000]);
    s.sample(8);
    expect([s.cmd, s.eip, s.icount]).toEqual([6, 0x100def, 2000]);
    at(REG32)[0] = 9;
    s.forgetCall();
    s.sample(8);
    expect(s.cmd).toBe(9);
    // EIPs and counters at and above 2^31 are unsigned.
    at(PREVIOUS_IP)[0] = 0xc0001000 | 0;
    at(ICOUNT)[0] = 0xfffffff0 | 0;
    s.sample(9);
    expect([s.eip, s.icount]).toEqual([0xc0001000, 0xfffffff0]);
  });

  it("unwraps the counter past 2^32 as the hub did, a small step back being no wrap", () => {
    const { s, at } = sampler();
    const seen: number[] = [];
    let seq = 0;
    for (const raw of [10, 0x7fffffff, 0xfffffff0, 5, 3, 0x90000000, 0x10, 0xffffff00]) {
      at(ICOUNT)[0] = raw | 0;
      s.sample(seq++);
      seen.push(s.icount);
    }
    const W = 2 ** 32;
    expect(seen).toEqual([10, 0x7fffffff, 0xfffffff0, W + 5, W + 3, W + 0x90000000, 2 * W + 0x10, 2 * W + 0xffffff00]);
    expect(s.unwrap(0x20)).toBe(3 * W + 0x20);
    // A restored checkpoint: the counter restarts at 100 as call count 5e9 went on.
    s.continueFrom(100, 5e9);
    expect(s.unwrap(150)).toBe(5e9 + 50);
    at(ICOUNT)[0] = 160;
    s.sample(seq - 1); // the same seq as before the restore: sampled again
    expect(s.icount).toBe(5e9 + 60);
  });

  it("finds the call's backtrace among its recent walks when asked, with paging off only, and keeps it for the call", () => {
    const { s, at, words } = sampler();
    oneFrameWalk(s, words);
    at(PREVIOUS_IP)[0] = EIP;
    at(REG32 + 4 * 5)[0] = 0x90040; // EBP: no recent walk from there
    s.sample(1);
    expect(s.stack).toBe(STACK_UNKNOWN);
    // Looked up when asked, not when sampled: the frame pointer the call has then.
    at(REG32 + 4 * 5)[0] = 0x90000;
    expect(s.stackNow()).toBe(12);
    // Kept for the call, whatever its stack's words become.
    words[(0x90000 >> 2) + 1] = 0x102000;
    expect(s.stackNow()).toBe(12);
    s.sample(2);
    expect(s.stackNow()).toBe(-1);
    expect(s.stack).toBe(STACK_UNKNOWN);
    // The hub walked it: its handle is the call's.
    s.setStack(30);
    expect(s.stackNow()).toBe(30);
    words[(0x90000 >> 2) + 1] = 0x101000;
    at(CR)[0] = 0x80000001 | 0; // PG
    s.sample(3);
    expect(s.stackNow()).toBe(-1);
    at(CR)[0] = 1;
    s.sample(4);
    expect(s.stackNow()).toBe(12);
  });

  it("has the arena's block writer write a page request's entry: its block, zone and kind word, and a seq past 2^32 exact", () => {
    const { at, arena, writer } = writerAtCall();
    const entry = (slot: number): number[] => [
      ...arena.ringInts.subarray(slot * E_STRIDE, slot * E_STRIDE + E_STRIDE),
      arena.ringFloats[slot * EF_STRIDE + EF_SEQ]!,
      arena.ringFloats[slot * EF_STRIDE + EF_ICOUNT]!,
    ];
    const fields = (packed: number, pfn: number, npages: number, gfp: number, seq: number, icount: number): number[] => {
      const ints = new Array<number>(E_STRIDE).fill(0);
      [ints[E_KIND], ints[E_RECORD], ints[E_PFN], ints[E_NPAGES], ints[E_GFP], ints[E_STACK], ints[E_EIP]] = [packed, -1, pfn, npages, gfp, 12, EIP];
      return [...ints, seq, icount];
    };
    const calls: [number, number, number, number, number, number, number[]][] = [
      // seq, cmd, arg0, arg1, result, icount, the entry
      [2 ** 32 + 5, Cmd.ALLOC_PAGES, 2, GFP.KERNEL, (0x100 + 0x18) * PAGE, 1000, fields(packBlock(KIND_ALLOC, 2, 1), 0x118, 4, GFP.KERNEL, 2 ** 32 + 5, 1000)],
      [2 ** 32 + 6, Cmd.FREE_PAGES, (0x100 + 0x30) * PAGE, 0, 0, 2000, fields(packBlock(KIND_FREE, 0, 2), 0x130, 1, -1, 2 ** 32 + 6, 2000)],
      [7, Cmd.ALLOC_PAGES, 0, GFP.DMA, (0x100 + 0x5) * PAGE, 3000, fields(packBlock(KIND_ALLOC, 0, 0), 0x105, 1, GFP.DMA, 7, 3000)],
    ];
    calls.forEach(([seq, cmd, arg0, arg1, result, icount, expected], slot) => {
      at(ICOUNT)[0] = icount;
      // Written; with no owner tables yet, left to the owner's catch-up.
      expect(writer.request(slot, cmd, arg0, arg1, result, seq)).toBe(WRITTEN_PENDING);
      expect(entry(slot)).toEqual(expected);
    });
    // A call whose stack is none of the recent walks: nothing written, the hub's to walk.
    at(REG32 + 4 * 5)[0] = 0x90040;
    const before = entry(3);
    expect(writer.request(3, Cmd.ALLOC_PAGES, 0, GFP.KERNEL, 0x100 * PAGE, 8)).toBe(0);
    expect(entry(3)).toEqual(before);
  });

  it("has the block writer apply a page request's record at once while nothing waits, and leave the rest to the catch-up", () => {
    const { at, arena, writer } = writerAtCall();
    const { ints, nums, frameRow } = arena.tables(0x40)!;
    const row = (h: number): number[] => [...ints.subarray(h * I_STRIDE, (h + 1) * I_STRIDE), ...nums.subarray(h * F_STRIDE, (h + 1) * F_STRIDE)];
    const record = (pfn: number, order: number, gfp: number, allocSeq: number, allocIcount: number, free: [number, number, number] = [-1, -1, -1]): number[] => {
      const r = new Array<number>(I_STRIDE + F_STRIDE).fill(0);
      [r[I_PFN], r[I_NPAGES], r[I_ORDER], r[I_GFP], r[I_ALLOC_STACK], r[I_FREE_STACK]] = [pfn, 1 << order, order, gfp, 12, free[0]];
      [r[I_STRIDE + F_ALLOC_SEQ], r[I_STRIDE + F_ALLOC_ICOUNT], r[I_STRIDE + F_FREE_SEQ], r[I_STRIDE + F_FREE_ICOUNT]] = [allocSeq, allocIcount, free[1], free[2]];
      return r;
    };
    const request = (slot: number, seq: number, icount: number, cmd: number, arg0: number, arg1: number, result: number): number => {
      at(ICOUNT)[0] = icount;
      return writer.request(slot, cmd, arg0, arg1, result, seq);
    };
    // An order-2 alloc at index 0x18: its record, and its four frames naming it.
    expect(request(0, 2 ** 32 + 5, 1000, Cmd.ALLOC_PAGES, 2, GFP.KERNEL, 0x118 * PAGE)).toBe(WRITTEN_APPLIED);
    expect(row(0x18)).toEqual(record(0x118, 2, GFP.KERNEL, 2 ** 32 + 5, 1000));
    expect([...frameRow.subarray(0x17, 0x1d)]).toEqual([-1, 0x18, 0x18, 0x18, 0x18, -1]);
    // The catch-up's cases: an alloc on a live head, a free of the wrong size, a block past the table.
    expect(request(1, 6, 2000, Cmd.ALLOC_PAGES, 0, GFP.KERNEL, 0x118 * PAGE)).toBe(WRITTEN_PENDING);
    expect(request(2, 7, 2100, Cmd.FREE_PAGES, 0x118 * PAGE, 1, 0)).toBe(WRITTEN_PENDING);
    expect(request(3, 8, 2200, Cmd.ALLOC_PAGES, 3, GFP.KERNEL, 0x13c * PAGE)).toBe(WRITTEN_PENDING);
    expect(request(4, 9, 2300, Cmd.ALLOC_PAGES, 0, GFP.KERNEL, 0x140 * PAGE)).toBe(WRITTEN_PENDING);
    expect(request(5, 10, 2400, Cmd.FREE_PAGES, 0x120 * PAGE, 0, 0)).toBe(WRITTEN_PENDING);
    expect(row(0x18)).toEqual(record(0x118, 2, GFP.KERNEL, 2 ** 32 + 5, 1000));
    expect(ints.subarray(0x3c * I_STRIDE).every((x) => x === 0)).toBe(true);
    expect(frameRow.subarray(0x19 + 3).every((x) => x === -1)).toBe(true);
    // The free of the block, with its size: recorded.
    expect(request(6, 11, 2500, Cmd.FREE_PAGES, 0x118 * PAGE, 2, 0)).toBe(WRITTEN_APPLIED);
    expect(row(0x18)).toEqual(record(0x118, 2, GFP.KERNEL, 2 ** 32 + 5, 1000, [12, 11, 2500]));
    expect(arena.takeCounters()).toEqual([1, 0, 0]);
    // While an earlier event waits for the catch-up, nothing is applied.
    arena.ownerPending[0] = 1;
    expect(request(7, 12, 2600, Cmd.ALLOC_PAGES, 0, GFP.DMA, 0x105 * PAGE)).toBe(WRITTEN_PENDING);
    expect(row(0x5).every((x) => x === 0)).toBe(true);
    arena.ownerPending[0] = 0;
    expect(request(8, 13, 2700, Cmd.ALLOC_PAGES, 0, GFP.DMA, 0x105 * PAGE)).toBe(WRITTEN_APPLIED);
    expect(row(0x5)).toEqual(record(0x105, 0, GFP.DMA, 13, 2700));
    expect(arena.takeCounters()).toEqual([1, 1, 1]);
  });

  it("has the block writers count each entry they write and flag the one at the ring's due mark, whose work afterWritten does", () => {
    const { at, arena, writer } = writerAtCall();
    const ring = new EventRing(null, arena);
    const caughtUpAt: number[] = [];
    ring.addReader({ catchUp: () => caughtUpAt.push(ring.total) }); // due at event EVENT_RING_HALF - 1
    for (let n = 0; n < EVENT_RING_HALF + 2; n++) {
      const written = n % 2 === 0
        ? writer.request(ring.nextSlot, Cmd.ALLOC_PAGES, 0, GFP.KERNEL, 0x105 * PAGE, n)
        : writer.block(ring.nextSlot, packBlock(KIND_FREE, 0, 0), RECORD_FROM_COMMAND, 0x105, 1, -1, n);
      // No owner tables: every entry is left to the catch-up; only event HALF - 1 is due.
      expect(written).toBe(n === EVENT_RING_HALF - 1 ? WRITTEN_PENDING | WRITTEN_DUE : WRITTEN_PENDING);
      expect(ring.total).toBe(n + 1);
      ring.afterWritten(written);
    }
    expect(caughtUpAt).toEqual([EVENT_RING_HALF]);
    expect(ring.pendingFrom).toBe(0);
    // A call whose stack is none of the recent walks: nothing written, nothing counted.
    at(REG32 + 4 * 5)[0] = 0x90040;
    expect(writer.request(ring.nextSlot, Cmd.ALLOC_PAGES, 0, GFP.KERNEL, 0x105 * PAGE, 1)).toBe(0);
    expect(ring.total).toBe(EVENT_RING_HALF + 2);
  });
});
