// Guest backtraces from the host: the frame-pointer chain read from guest RAM, through the guest's
// page tables when paging is on (4 KiB and 4 MiB pages), bounded and tolerant of garbage; and the
// memo in front of the walk, which must always give exactly what a fresh walk would.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CR0_PG, CR4_PAE, CR4_PSE, StackDepot, StackMemo, ramWords, translate, walkStack } from "../src/observe/index.js";
import { CallSampler } from "../src/observe/call-sampler-wasm.js";

const RAM = 8 * 1024 * 1024;

function ramWith(words: [number, number][]): Int32Array {
  const ram = new Uint8Array(RAM);
  const dv = new DataView(ram.buffer);
  for (const [addr, value] of words) dv.setUint32(addr, value >>> 0, true);
  return ramWords(ram);
}

/** Frames at fp0 < fp1 < fp2: each [saved ebp, return address]. */
function chain(base: number, rets: number[]): [number, number][] {
  const words: [number, number][] = [];
  rets.forEach((ret, i) => {
    const fp = base + i * 0x40;
    const next = i + 1 < rets.length ? base + (i + 1) * 0x40 : 0;
    words.push([fp, next], [fp + 4, ret]);
  });
  return words;
}

function walk(ram: Int32Array, eip: number, ebp: number, opts: { cr0?: number; cr3?: number; cr4?: number; depth?: number; code?: Uint32Array | null } = {}): number[] {
  const out = new Uint32Array(opts.depth ?? 16);
  const n = walkStack(ram, eip, ebp, opts.cr0 ?? 0, opts.cr3 ?? 0, opts.cr4 ?? 0, out, opts.code ?? null);
  return Array.from(out.subarray(0, n));
}

describe("stack walk, paging off", () => {
  it("follows the frame-pointer chain up to EBP 0", () => {
    const ram = ramWith(chain(0x90000, [0x101111, 0x102222, 0x103333]));
    expect(walk(ram, 0x100abc, 0x90000)).toEqual([0x100abc, 0x101111, 0x102222, 0x103333]);
  });

  it("is bounded by the depth", () => {
    const ram = ramWith(chain(0x90000, [1, 2, 3, 4, 5, 6].map((i) => 0x100000 + i)));
    expect(walk(ram, 0x100abc, 0x90000, { depth: 3 })).toEqual([0x100abc, 0x100001, 0x100002]);
  });

  it("stops at garbage: a loop, a frame going down, misalignment, outside RAM, return address 0", () => {
    const loop = ramWith([
      [0x90000, 0x90000],
      [0x90004, 0x101000],
    ]);
    expect(walk(loop, 0x100abc, 0x90000)).toEqual([0x100abc, 0x101000]);
    const down = ramWith([
      [0x90000, 0x80000],
      [0x90004, 0x101000],
      [0x80000, 0],
      [0x80004, 0x102000],
    ]);
    expect(walk(down, 0x100abc, 0x90000)).toEqual([0x100abc, 0x101000]);
    expect(walk(ramWith([]), 0x100abc, 0x90002)).toEqual([0x100abc]);
    expect(walk(ramWith([]), 0x100abc, RAM - 4)).toEqual([0x100abc]);
    expect(walk(ramWith([]), 0x100abc, 0xfffffffc)).toEqual([0x100abc]);
    expect(walk(ramWith([[0x90000, 0x90100]]), 0x100abc, 0x90000)).toEqual([0x100abc]);
  });

  it("stops at a return address outside the kernel's code", () => {
    const ram = ramWith(chain(0x90000, [0x101111, 0x7777777, 0x103333]));
    const code = Uint32Array.from([0x100000, 0x200000]);
    expect(walk(ram, 0x100abc, 0x90000, { code })).toEqual([0x100abc, 0x101111]);
  });
});

describe("stack walk, paging on", () => {
  const PD = 0x10000;
  const PT = 0x11000;
  // VA 0xC0000000.. (PDE 0x300) -> page table PT; PTE 0x10 maps VA 0xC0010000 -> PA 0x90000.
  const tables: [number, number][] = [
    [PD + 0x300 * 4, PT | 0x3],
    [PT + 0x10 * 4, 0x90000 | 0x3],
    [PT + 0x11 * 4, 0x0], // not present
  ];

  it("translates 4 KiB pages through the page directory and a page table", () => {
    const ram = ramWith(tables);
    expect(translate(ram, 0xc0010abc, CR0_PG, PD, 0)).toBe(0x90abc);
    expect(translate(ram, 0xc0011000, CR0_PG, PD, 0)).toBe(-1);
    expect(translate(ram, 0x00400000, CR0_PG, PD, 0)).toBe(-1);
    expect(translate(ram, 0x00400000, 0, PD, 0)).toBe(0x400000);
  });

  it("translates 4 MiB pages only with CR4.PSE", () => {
    const ram = ramWith([[PD + 0x100 * 4, 0x00400000 | 0x83]]);
    expect(translate(ram, 0x40012345, CR0_PG, PD, CR4_PSE)).toBe(0x412345);
    // Without PSE the entry is a page-table pointer: PT at 0x400000, whose entry 0x12 is zero.
    expect(translate(ram, 0x40012345, CR0_PG, PD, 0)).toBe(-1);
    // With PAE the same CR3 is a PDPT whose entry 1 (VA 0x40000000) is zero here.
    expect(translate(ram, 0x40012345, CR0_PG, PD, CR4_PSE | CR4_PAE)).toBe(-1);
  });

  it("translates PAE's three levels: 4 KiB pages, 2 MiB pages, and refuses entries above 4 GiB", () => {
    const PDPT = 0x20000;
    const PD3 = 0x21000;
    const PT3 = 0x22000;
    // PDPTE 3 (VA 0xC0000000..) -> PD3; PDE 0x000 -> PT3, whose PTE 0x10 maps VA 0xC0010000 -> PA 0x90000;
    // PDE 0x001 is a 2 MiB page at PA 0x200000; PDE 0x002 points to a table above 4 GiB.
    const ram = ramWith([
      [PDPT + 3 * 8, PD3 | 0x1],
      [PD3 + 0 * 8, PT3 | 0x3],
      [PT3 + 0x10 * 8, 0x90000 | 0x3],
      [PD3 + 1 * 8, 0x200000 | 0x83],
      [PD3 + 2 * 8, 0x23000 | 0x3],
      [PD3 + 2 * 8 + 4, 0x1],
      // PTE 0x12: a non-executable page (bit 63, XD) at PA 0x91000.
      [PT3 + 0x12 * 8, 0x91000 | 0x3],
      [PT3 + 0x12 * 8 + 4, 0x80000000 | 0],
    ]);
    expect(translate(ram, 0xc0012010, CR0_PG, PDPT, CR4_PAE)).toBe(0x91010);
    expect(translate(ram, 0xc0010abc, CR0_PG, PDPT, CR4_PAE)).toBe(0x90abc);
    expect(translate(ram, 0xc0011abc, CR0_PG, PDPT, CR4_PAE)).toBe(-1);
    expect(translate(ram, 0xc0212345, CR0_PG, PDPT, CR4_PAE)).toBe(0x212345);
    expect(translate(ram, 0xc0400000, CR0_PG, PDPT, CR4_PAE)).toBe(-1);
    expect(translate(ram, 0x80000000, CR0_PG, PDPT, CR4_PAE)).toBe(-1);
    // The same tables read as 32-bit paging mean something else entirely.
    expect(translate(ram, 0xc0010abc, CR0_PG, PDPT, 0)).toBe(-1);
  });

  it("walks a stack that lives at a virtual address", () => {
    const va = 0xc0010000;
    const frames: [number, number][] = [
      [0x90000, va + 0x40],
      [0x90004, 0x101111],
      [0x90040, 0],
      [0x90044, 0x102222],
    ];
    const ram = ramWith([...tables, ...frames]);
    expect(walk(ram, 0x100abc, va, { cr0: CR0_PG, cr3: PD })).toEqual([0x100abc, 0x101111, 0x102222]);
    // The same EBP read as a physical address finds nothing: paging must be honoured.
    expect(walk(ram, 0x100abc, va)).toEqual([0x100abc]);
  });

  it("reads a frame that straddles a page boundary through both pages", () => {
    // VA 0xC0010FFC is the last word of a page mapped to PA 0x90000; its return address is the first
    // word of the next VA page, mapped to PA 0x95000 (not the PA right after 0x90FFC).
    const fp = 0xc0010ffc;
    const ram = ramWith([
      [PD + 0x300 * 4, PT | 0x3],
      [PT + 0x10 * 4, 0x90000 | 0x3],
      [PT + 0x11 * 4, 0x95000 | 0x3],
      [0x90ffc, 0],
      [0x95000, 0x101111],
      [0x91000, 0x7777777],
    ]);
    expect(walk(ram, 0x100abc, fp, { cr0: CR0_PG, cr3: PD })).toEqual([0x100abc, 0x101111]);
  });
});

describe("stack depot", () => {
  it("stores each distinct stack once and gives it back", () => {
    const depot = new StackDepot();
    const a = depot.intern(Uint32Array.from([1, 2, 3]), 3);
    const b = depot.intern(Uint32Array.from([1, 2, 4]), 3);
    const c = depot.intern(Uint32Array.from([1, 2, 3, 9]), 2);
    expect(depot.intern(Uint32Array.from([1, 2, 3]), 3)).toBe(a);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(depot.frames(c)).toEqual([1, 2]);
    for (let i = 0; i < 5000; i++) depot.intern(Uint32Array.from([i, i * 7]), 2);
    expect(depot.size).toBe(5003);
    expect(depot.frames(depot.intern(Uint32Array.from([4321, 4321 * 7]), 2))).toEqual([4321, 4321 * 7]);
    expect(depot.frames(b)).toEqual([1, 2, 4]);
  });
});

// The memo's recent walks are kept in JavaScript, or in WebAssembly over the memory the RAM lives in
// (call-sampler-wasm.ts, as the hub does with v86's memory): every test runs both ways.
/** Byte offset of guest RAM inside a test's WebAssembly memory; below and above it, other data. */
const WASM_RAM_OFFSET = 0x10000;
/** The memory each RAM made by stateInWasm lives in. */
const memories = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();

/** Guest RAM of `bytes` inside a WebAssembly memory, between words that look like more frames. */
function stateInWasm(bytes: number): Uint8Array {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((WASM_RAM_OFFSET + bytes + 0x10000) / 0x10000) });
  const all = new Int32Array(memory.buffer);
  for (const [from, to] of [[0, WASM_RAM_OFFSET], [WASM_RAM_OFFSET + bytes, all.byteLength]]) {
    for (let i = from >> 2; i < to >> 2; i += 2) {
      all[i] = bytes + 0x40; // a saved EBP just past RAM's end
      all[i + 1] = 0x101234; // a return address in the code
    }
  }
  const ram = new Uint8Array(memory.buffer, WASM_RAM_OFFSET, bytes);
  memories.set(memory.buffer, memory);
  return ram;
}

describe.each([
  { recent: "JavaScript", wasm: false },
  { recent: "WebAssembly", wasm: true },
])("stack memo (paging off), recent walks in $recent", ({ wasm }) => {
  const CODE = Uint32Array.from([0x100000, 0x110000]);
  /** Guest RAM holding `words` (as ramWith), in a WebAssembly memory for the WebAssembly runs. */
  function ramOf(pairs: [number, number][], bytes = RAM): Int32Array {
    const ram = wasm ? stateInWasm(bytes) : new Uint8Array(bytes);
    const dv = new DataView(ram.buffer, ram.byteOffset, ram.length);
    for (const [addr, value] of pairs) dv.setUint32(addr, value >>> 0, true);
    return ramWords(ram);
  }
  /** A memo whose recent walks read `words`'s memory (the WebAssembly runs). */
  function memoOf(depth: number, depot: StackDepot, words: Int32Array): StackMemo {
    const memo = new StackMemo(new Uint32Array(depth), CODE, depot);
    if (wasm) {
      // The CPU state's words in the page below RAM (this memo reads none of them).
      const state = { reg32Offset: 0x100, previousIpOffset: 0x140, instructionCounterOffset: 0x144, crOffset: 0x180 };
      const recent = CallSampler.create({ memory: memories.get(words.buffer)!, ramOffset: words.byteOffset, ramBytes: words.byteLength, ...state });
      expect(recent).not.toBeNull();
      memo.useSampler(recent);
    }
    return memo;
  }
  /** The memo's answer as frames, beside a fresh walk of the same RAM. */
  function both(memo: StackMemo, depot: StackDepot, words: Int32Array, eip: number, ebp: number, depth: number): [number[], number[]] {
    const fresh = new Uint32Array(depth);
    const n = walkStack(words, eip, ebp, 0, 0, 0, fresh, CODE);
    return [depot.frames(memo.handle(words, eip, ebp)), Array.from(fresh.subarray(0, n))];
  }

  it("gives the same handle while the chain is unchanged, and follows every change a walk would see", () => {
    const words = ramOf(chain(0x90000, [0x101111, 0x102222, 0x103333]));
    const depot = new StackDepot();
    const memo = memoOf(16, depot, words);
    const h = memo.handle(words, 0x100abc, 0x90000);
    expect(depot.frames(h)).toEqual([0x100abc, 0x101111, 0x102222, 0x103333]);
    expect(memo.handle(words, 0x100abc, 0x90000)).toBe(h);
    // A return address in the middle changes.
    words[(0x90040 + 4) >> 2] = 0x104444;
    expect(depot.frames(memo.handle(words, 0x100abc, 0x90000))).toEqual([0x100abc, 0x101111, 0x104444, 0x103333]);
    // The outermost frame's saved EBP (0, which ended the walk) now points further up: one frame more.
    words[0x90080 >> 2] = 0x900c0;
    words[(0x900c0 + 4) >> 2] = 0x105555;
    expect(depot.frames(memo.handle(words, 0x100abc, 0x90000))).toEqual([0x100abc, 0x101111, 0x104444, 0x103333, 0x105555]);
    // Back as it was: the depot's handle of the first stack again.
    words[(0x90040 + 4) >> 2] = 0x102222;
    words[0x90080 >> 2] = 0;
    expect(memo.handle(words, 0x100abc, 0x90000)).toBe(h);
    // Another EIP or EBP is another walk; a new RAM view (v86 grew its memory) forgets everything.
    expect(depot.frames(memo.handle(words, 0x100def, 0x90000))[0]).toBe(0x100def);
    expect(depot.frames(memo.handle(words, 0x100abc, 0x90040))).toEqual([0x100abc, 0x102222, 0x103333]);
    const grown = ramOf(chain(0x90000, [0x106666]));
    expect(depot.frames(memo.handle(grown, 0x100abc, 0x90000))).toEqual([0x100abc, 0x106666]);
  });

  it("always equals a fresh walk, whatever the guest writes between calls (property)", () => {
    const site = fc.record({ eip: fc.constantFrom(0x100abc, 0x100def, 0x200000), ebp: fc.constantFrom(0x90000, 0x90040, 0x90080, 0x90002) });
    // Writes land on the chain's own words half the time (saved EBPs and return addresses of frames
    // at 0x90000 + 0x40 k), else anywhere in and above it; the values are frame pointers (in the
    // chain, or the unlinked frames above it), return addresses in and out of the code, or any int.
    const chainWord = fc.integer({ min: 0, max: 15 }).map((i) => ((0x90000 + 0x40 * (i >> 1)) >> 2) + (i & 1));
    const anyWord = fc.integer({ min: 0x90000 >> 2, max: (0x90200 >> 2) - 1 });
    const value = fc.oneof(fc.constantFrom(0, 0x90000, 0x90040, 0x90080, 0x900c0, 0x90100, 0x90140, 0x90002, 0x101000, 0x10ffff, 0x110000), fc.integer());
    const write = fc.record({ at: fc.oneof(chainWord, anyWord), value });
    const step = fc.oneof(site.map((s) => ({ kind: "call" as const, ...s })), write.map((w) => ({ kind: "write" as const, ...w })));
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 10 }), (steps, depth) => {
        // Four linked frames, then four more above them that only a write can link in.
        const words = ramOf([...chain(0x90000, [0x101111, 0x102222, 0x103333, 0x104444]), ...chain(0x90100, [0x105555, 0x106666, 0x107777, 0x108888])]);
        const depot = new StackDepot();
        const memo = memoOf(depth, depot, words);
        for (const s of steps) {
          if (s.kind === "write") words[s.at] = s.value;
          else {
            const [got, want] = both(memo, depot, words, s.eip, s.ebp, depth);
            expect(got).toEqual(want);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("sees a change to any word a walk read, at every depth, answered from its recent walks or its table", () => {
    // Ten linked frames: trails of 0 to 9 frames, past the six a RecentWalk holds. Each word of the
    // chain in turn is changed and put back; every answer must be a fresh walk's.
    const original = chain(0x90000, Array.from({ length: 10 }, (_, k) => 0x101000 + 0x111 * (k + 1)));
    const words = ramOf(original);
    for (const depth of [1, 2, 5, 6, 7, 8, 11, 16]) {
      const depot = new StackDepot();
      const memo = memoOf(depth, depot, words);
      const check = (): void => {
        const [got, want] = both(memo, depot, words, 0x100abc, 0x90000, depth);
        expect(got).toEqual(want);
      };
      original.forEach(([addr, old], i) => {
        check();
        check(); // the same stack again: a recent walk's answer when the trail is shallow
        // A saved EBP of 0 ends the walk there; a return address moves within the code.
        words[addr >> 2] = i % 2 === 0 ? 0 : 0x10fff0;
        check();
        words[addr >> 2] = old;
        check();
      });
    }
  });

  it("answers as a fresh walk for stacks at RAM's top and frame pointers outside RAM", () => {
    const top = RAM - 0x40 * 3;
    // Three frames ending at RAM's last words; the outermost saved EBP points past RAM's end.
    const pairs = chain(top, [0x101111, 0x102222, 0x103333]);
    pairs[4] = [top + 0x80, RAM];
    const words = ramOf(pairs);
    const depot = new StackDepot();
    const memo = memoOf(16, depot, words);
    for (const ebp of [top, top + 0x40, top + 0x80, RAM - 8, RAM - 4, RAM, 0x7ffffffc, -4, 0x80000000 | 0]) {
      for (let i = 0; i < 3; i++) {
        const [got, want] = both(memo, depot, words, 0x100abc, ebp, 16);
        expect(got).toEqual(want);
      }
    }
    // The last frame's return address changes under a recent walk.
    words[(top + 0x84) >> 2] = 0x104444;
    const [got, want] = both(memo, depot, words, 0x100abc, top, 16);
    expect(got).toEqual(want);
    expect(got).toEqual([0x100abc, 0x101111, 0x102222, 0x104444]);
  });
});

describe("stack memo, a new RAM view", () => {
  it("forgets its recent walks: a frame past the old RAM's end is walked in the larger one", () => {
    const CODE = Uint32Array.from([0x100000, 0x110000]);
    const depot = new StackDepot();
    const memo = new StackMemo(new Uint32Array(16), CODE, depot);
    expect(depot.frames(memo.handle(ramWords(new Uint8Array(0x100000)), 0x100abc, 0x180000))).toEqual([0x100abc]);
    expect(depot.frames(memo.handle(ramWith(chain(0x180000, [0x101111])), 0x100abc, 0x180000))).toEqual([0x100abc, 0x101111]);
  });
});
