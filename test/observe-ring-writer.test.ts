// The page's allocs and frees written into its ring by one WebAssembly call (the arena's block
// writer with the hub's call sampler: owner-wasm.ts, call-sampler-wasm.ts), against the same hub
// writing them in JavaScript: on the bundled guest's workloads (churn's two stacks, the demo's many
// call sites and splits, BATCH's records, hostile requests) both rings hold the same events with
// the same fields and backtraces, and the present owner reading each keeps the same records. The
// instruction counts are compared loosely: v86 counts a few instructions differently from run to run.

import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DebugSession } from "../src/debug/session.js";
import { nodePlatform } from "../src/host/node-platform.js";
import { readElf32, runMachine } from "../src/machine/index.js";
import { EventHub } from "../src/observe/event-hub.js";
import { EventRing } from "../src/observe/event-ring.js";
import { E_STACK, E_STRIDE, EF_ICOUNT, EF_STRIDE, EVENT_RING_SIZE } from "../src/observe/layout.js";
import { OwnerArena } from "../src/observe/owner-wasm.js";
import { WRITTEN_APPLIED, type BlockWriterExports } from "../src/observe/ring-writer-wasm.js";
import { PresentOwner } from "../src/observe/present-owner.js";
import { codeRanges } from "../src/observe/stack-walk.js";
import { GFP } from "../src/mem/index.js";
import { Cmd, Status } from "../src/protocol/abi.js";
import { fakeGuest, MiB } from "./bridge-fixtures.js";

const IMAGE = new URL("../images/buddy86-guest.elf", import.meta.url);
const PAGE = 4096;

/**
 * Counts the events the arena's block writer writes (wrappers around the functions the hub gets):
 * `requests` those it wrote for onCall's page requests.
 */
function countWrites(arena: OwnerArena): { (): number; requests: () => number; applied: () => number } {
  let written = 0;
  let requests = 0;
  let applied = 0;
  const makeWriter = arena.blockWriter.bind(arena);
  arena.blockWriter = (sampler): BlockWriterExports => {
    const writer = makeWriter(sampler);
    return {
      ...writer,
      block: (...args) => {
        const done = writer.block(...args);
        if (done !== 0) written++;
        return done;
      },
      request: (...args) => {
        const done = writer.request(...args);
        if (done !== 0) {
          written++;
          requests++;
        }
        if (done === WRITTEN_APPLIED) applied++;
        return done;
      },
    };
  };
  return Object.assign(() => written, { requests: () => requests, applied: () => applied });
}

/** One run of the bundled guest observed as the page does; `inArena`: the ring written by the block writer. */
async function run(kernel: Uint8Array, cmdline: string, inArena: boolean, poison: boolean) {
  const hub = new EventHub({ code: codeRanges(readElf32(kernel)) });
  const arena = OwnerArena.create((32 * MiB) / PAGE)!;
  const ring = new EventRing(hub, arena);
  hub.subscribe(ring);
  const written = countWrites(arena);
  if (inArena) hub.writeRingInArena(arena, ring);
  const owner = new PresentOwner(hub, ring, undefined, arena);
  // Asked every 1,000 calls, as the page's packets ask it every display frame: the owner catches up
  // then (so the writer applies between catch-ups, and meets events still waiting).
  let asked = 0;
  hub.subscribe({
    onCallEnd: (seq) => {
      if (owner.liveFrames >= 0) asked = seq + 1000;
    },
    get nextCallEnd() {
      return asked;
    },
  });
  // Poisoning, as the page's option: its listener beside the hub's makes the allocator tell every
  // alloc and free itself, inside a BATCH record, before the hub has sampled the call.
  const debug = poison ? new DebugSession({ poison: true, poisonAction: "report" }) : null;
  const result = await runMachine({
    kernel,
    platform: nodePlatform(),
    memoryBytes: 32 * MiB,
    cmdline,
    observer: hub,
    timeoutMs: 120_000,
    ...(debug !== null ? { onAllocator: debug.onAllocator } : {}),
  });
  expect(result.reason, result.guestLog).toBe("exit");
  // Every entry's backtrace as frames (the two hubs' depots may number stacks alike or not).
  const frames = Array.from({ length: Math.min(ring.total, EVENT_RING_SIZE) }, (_, slot) => {
    const stack = ring.ints[slot * E_STRIDE + E_STACK]!;
    return stack >= 0 ? hub.depot.frames(stack).join(" ") : "-";
  });
  const ints = Int32Array.from(ring.ints);
  for (let slot = 0; slot < EVENT_RING_SIZE; slot++) ints[slot * E_STRIDE + E_STACK] = 0;
  const counts = [owner.count, owner.liveFrames, owner.liveBlocks, owner.untrackedFrees, owner.invalidFreeCount];
  // Every record the owner holds, live or freed, with its backtraces as frames (instruction counts
  // left out: v86's JIT moves them between runs).
  const records: string[] = [];
  for (let r = 0; r < (32 * MiB) / PAGE; r++) {
    if (owner.rowOfFrame(r) !== r) continue;
    const { allocIcount: _a, freeIcount: _f, allocStack, freeStack, ...row } = owner.row(r);
    const framesOf = (stack: number): string => (stack >= 0 ? hub.depot.frames(stack).join(" ") : String(stack));
    records.push(JSON.stringify({ ...row, alloc: framesOf(allocStack), free: framesOf(freeStack) }));
  }
  return { ring, ints, frames, counts, records, written: written(), requests: written.requests(), applied: written.applied() };
}

describe.skipIf(!existsSync(IMAGE))("the page's ring written by the arena's block writer", () => {
  const kernel = existsSync(IMAGE) ? new Uint8Array(readFileSync(IMAGE)) : new Uint8Array(0);
  const runs: [string, boolean][] = [
    ["workload=churn ops=90000 seed=1", false],
    ["workload=demo ops=300 seed=3", false],
    ["workload=batch ops=80 seed=5", false],
    ["workload=batch ops=80 seed=5", true],
    ["workload=hostile seed=2", false],
  ];
  for (const [cmdline, poison] of runs) {
    it(`holds what the hub writes in JavaScript (${cmdline}${poison ? ", poisoning" : ""})`, async () => {
      const js = await run(kernel, cmdline, false, poison);
      const wasm = await run(kernel, cmdline, true, poison);
      expect(js.written).toBe(0);
      expect(wasm.written).toBeGreaterThan(0);
      if (cmdline.includes("churn")) expect(wasm.written).toBeGreaterThan(0.99 * wasm.ring.total);
      // Page requests outside BATCH, by onCall in one WebAssembly call; BATCH's records are told by onRecord.
      if (cmdline.includes("churn")) expect(wasm.requests).toBeGreaterThan(0.95 * wasm.ring.total);
      if (cmdline.includes("batch")) expect(wasm.requests).toBeLessThan(wasm.written);
      expect(wasm.ring.total).toBe(js.ring.total);
      expect(Buffer.from(wasm.ints.buffer).equals(Buffer.from(js.ints.buffer))).toBe(true);
      expect(wasm.frames).toEqual(js.frames);
      expect(wasm.counts).toEqual(js.counts);
      expect(wasm.records.length).toBeGreaterThan(0);
      expect(wasm.records).toEqual(js.records);
      // The writer applies a page request's record as it writes it, unless an earlier event waits
      // (or the owner has no tables yet: it takes them at its first catch-up after MEMMAP).
      if (cmdline.includes("churn")) expect(wasm.applied).toBeGreaterThan(0.98 * wasm.requests);
      // Instruction counts: within what v86's JIT moves between runs, and never going back.
      let last = 0;
      for (let n = Math.max(0, wasm.ring.total - EVENT_RING_SIZE); n < wasm.ring.total; n++) {
        const at = (n & (EVENT_RING_SIZE - 1)) * EF_STRIDE + EF_ICOUNT;
        const icount = wasm.ring.floats[at]!;
        expect(icount).toBeGreaterThanOrEqual(last);
        expect(Math.abs(icount - js.ring.floats[at]!)).toBeLessThan(200_000);
        last = icount;
      }
    });
  }
});

// A guest built in the test, its RAM and registers inside a WebAssembly memory as v86 keeps them, so
// that the hub gets a call sampler: calls whose stacks the test writes.
const RAM_OFFSET = 0x10000;
const REG32 = 0x100, PREVIOUS_IP = 0x140, ICOUNT = 0x144, CR = 0x180;
const EBP = 5;

function guestInMemory(inArena: boolean) {
  const ramBytes = 32 * MiB;
  const memory = new WebAssembly.Memory({ initial: (RAM_OFFSET + ramBytes) / 0x10000 });
  const hub = new EventHub();
  const arena = OwnerArena.create(ramBytes / PAGE)!;
  const ring = new EventRing(hub, arena);
  hub.subscribe(ring);
  const written = countWrites(arena);
  if (inArena) hub.writeRingInArena(arena, ring);
  const g = fakeGuest({ ramBytes, observer: hub, pcp: false, inMemory: { memory, ramOffset: RAM_OFFSET, reg32Offset: REG32 } });
  const state = new Int32Array(memory.buffer, 0, RAM_OFFSET / 4);
  hub.attachGuest({
    reg32: g.reg32,
    get eip() {
      return state[PREVIOUS_IP / 4]! >>> 0;
    },
    get instructionCount() {
      return state[ICOUNT / 4]! >>> 0;
    },
    get cr0() {
      return state[CR / 4]! >>> 0;
    },
    cr3: 0,
    cr4: 0,
    stateInWasm: { memory, ramOffset: RAM_OFFSET, ramBytes, reg32Offset: REG32, previousIpOffset: PREVIOUS_IP, instructionCounterOffset: ICOUNT, crOffset: CR },
  });
  const call = (eip: number, ebp: number, cmd: number, arg0 = 0, arg1 = 0): number => {
    state[PREVIOUS_IP / 4] = eip;
    state[ICOUNT / 4] = state[ICOUNT / 4]! + 1000;
    g.reg32[EBP] = ebp;
    const r = g.bridge.call(cmd, arg0, arg1, 0);
    expect(r.status).toBe(Status.OK);
    return r.result;
  };
  expect(g.memmap().status).toBe(Status.OK);
  /** The frames of the newest ring entry's stack. */
  const lastStack = (): number[] => hub.depot.frames(ring.ints[((ring.total - 1) & (EVENT_RING_SIZE - 1)) * E_STRIDE + E_STACK]!);
  return { hub, g, call, lastStack, written };
}

describe("the ring writer on calls whose stacks the test writes", () => {
  const A = 0x101000, F = 0x102000, RET = 0x104000;

  it.each([false, true])("finds a call's backtrace when its alloc is told, after the call zeroed its stack's page (writer: %s)", (inArena) => {
    const { g, call, lastStack, written } = guestInMemory(inArena);
    // A page, freed, then a one-frame stack written into it.
    const p = call(A, 0, Cmd.ALLOC_PAGES, 0, GFP.KERNEL);
    call(F, 0, Cmd.FREE_PAGES, p, 0);
    g.dv.setUint32(p, 0, true);
    g.dv.setUint32(p + 4, RET, true);
    // A call from that frame gets the page back (its splits sample the call first).
    expect(call(A, p, Cmd.ALLOC_PAGES, 0, GFP.KERNEL)).toBe(p);
    expect(lastStack()).toEqual([A, RET]);
    call(F, 0, Cmd.FREE_PAGES, p, 0);
    // Again, zeroed: the allocator clears the page, the frame with it, after the splits and before
    // the alloc is told, when the backtrace is walked: it has the `in`'s EIP only.
    expect(call(A, p, Cmd.ALLOC_PAGES, 0, GFP.KERNEL | GFP.ZERO)).toBe(p);
    expect(lastStack()).toEqual([A]);
    // The same stack twice, unchanged: the writer's (a recent walk) when it writes.
    const before = written();
    call(F, 0, Cmd.FREE_PAGES, p, 0);
    expect(call(A, p, Cmd.ALLOC_PAGES, 0, GFP.KERNEL)).toBe(p);
    expect(lastStack()).toEqual([A]);
    expect(written() > before).toBe(inArena);
  });

  it("stops writing once another block subscriber joins the hub", () => {
    const { hub, call, written } = guestInMemory(true);
    // The first of each stack is walked in JavaScript; the writer writes the rest.
    for (let i = 0; i < 3; i++) call(F, 0, Cmd.FREE_PAGES, call(A, 0, Cmd.ALLOC_PAGES, 0, GFP.KERNEL), 0);
    expect(written()).toBe(4);
    const blocks: number[] = [];
    hub.subscribe({ onBlock: (code) => blocks.push(code) });
    const before = written();
    call(F, 0, Cmd.FREE_PAGES, call(A, 0, Cmd.ALLOC_PAGES, 0, GFP.KERNEL), 0);
    expect(written()).toBe(before);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });
});
