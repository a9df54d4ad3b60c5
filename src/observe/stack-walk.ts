// Guest backtraces read from outside the guest: the frame-pointer chain (EBP -> saved EBP, return
// address at EBP+4) walked in guest memory, with the guest's own page tables walked in the host when
// paging is on (CR0.PG), and StackMemo, which skips a walk whose words did not change (paging off).
// Everything the guest controls is untrusted: the walk is bounded by depth, must move up the stack,
// stops at the first unmapped, misaligned or non-code address, and never throws. 32-bit two-level
// paging with 4 KiB pages and, when CR4.PSE is set, 4 MiB pages; with CR4.PAE, PAE's three levels
// with 4 KiB and 2 MiB pages. Segmentation is assumed flat. CallStacks (at the end) is the hub's use.

import type { Elf32Image } from "../machine/elf.js";
import { CR0_PG, CR4_PAE, CR4_PSE, DEFAULT_STACK_DEPTH, MEMO_EMPTY, MEMO_SLOTS, MEMO_SLOT_BITS, PDE_PAGE_SIZE, PTE_PRESENT, RECENT_FRAMES, REG_EBP, SAMPLER_FRAMES } from "./layout.js";
import { StackDepot } from "./stack-depot.js";
import type { GuestRegisters } from "../machine/bridge.js";
import type { CallSampler } from "./call-sampler-wasm.js";

const PF_X = 0x1;
export { DEFAULT_STACK_DEPTH };

/**
 * Guest RAM as little-endian 32-bit words (a view, not a copy): every read of a walk is an aligned
 * word, so one load instead of four. Rebuild it when the RAM view changes (v86 grows its memory).
 * x86 is little-endian and so is every host v86 runs on, so the view's words are the guest's.
 */
export function ramWords(ram: Uint8Array): Int32Array {
  if (ram.byteOffset % 4 !== 0) throw new Error(`invariant: guest RAM view at byte offset ${ram.byteOffset} is not 4-aligned`);
  return new Int32Array(ram.buffer, ram.byteOffset, ram.length >>> 2);
}

/** ramWords() of the latest RAM view it was given: rebuilt only when the view changes. */
export class RamWords {
  private ram: Uint8Array | null = null;
  private words: Int32Array = new Int32Array(0);

  of(ram: Uint8Array): Int32Array {
    if (ram !== this.ram) {
      this.words = ramWords(ram);
      this.ram = ram;
    }
    return this.words;
  }
}

/** The u32 at 4-aligned physical address p; -1 when misaligned or outside RAM. */
export function readPhys32(words: Int32Array, p: number): number {
  // Page-table arithmetic can reach past 4 GiB: range first, so that the shift below is exact.
  if (p < 0 || p + 4 > 4 * words.length || (p & 3) !== 0) return -1;
  return words[p >>> 2]! >>> 0;
}

/**
 * The physical address of guest linear address `va`, or -1 when it is not mapped (or the tables, or
 * the page, lie outside RAM). With paging off it is `va` itself when inside RAM. Both 32-bit paging
 * (4 KiB pages, 4 MiB ones with CR4.PSE) and PAE (4 KiB and 2 MiB pages) are walked.
 */
export function translate(words: Int32Array, va: number, cr0: number, cr3: number, cr4: number): number {
  va >>>= 0;
  const bytes = 4 * words.length;
  if ((cr0 & CR0_PG) === 0) return va < bytes ? va : -1;
  if ((cr4 & CR4_PAE) !== 0) return translatePae(words, va, cr3);
  const pde = readPhys32(words, ((cr3 & 0xfffff000) >>> 0) + (va >>> 22) * 4);
  if (pde < 0 || (pde & PTE_PRESENT) === 0) return -1;
  let pa: number;
  if ((pde & PDE_PAGE_SIZE) !== 0 && (cr4 & CR4_PSE) !== 0) {
    pa = ((pde & 0xffc00000) >>> 0) + (va & 0x3fffff);
  } else {
    const pte = readPhys32(words, ((pde & 0xfffff000) >>> 0) + ((va >>> 12) & 0x3ff) * 4);
    if (pte < 0 || (pte & PTE_PRESENT) === 0) return -1;
    pa = ((pte & 0xfffff000) >>> 0) + (va & 0xfff);
  }
  return pa < bytes ? pa : -1;
}

/**
 * PAE: CR3 holds the 32-byte aligned table of four 64-bit PDPTEs (VA bits 31-30), then a page
 * directory and a page table of 512 64-bit entries each (bits 29-21, 20-12); PS in a PDE maps a 2 MiB
 * page. An entry's address bits 32-51 other than 0 point above 4 GiB, outside any RAM v86 gives a
 * guest; its bits 52-63 (bit 63: execute-disable) are not address bits.
 */
function translatePae(words: Int32Array, va: number, cr3: number): number {
  const pdpte = readPae(words, ((cr3 & 0xffffffe0) >>> 0) + (va >>> 30) * 8);
  if (pdpte < 0 || (pdpte & PTE_PRESENT) === 0) return -1;
  const pde = readPae(words, ((pdpte & 0xfffff000) >>> 0) + ((va >>> 21) & 0x1ff) * 8);
  if (pde < 0 || (pde & PTE_PRESENT) === 0) return -1;
  let pa: number;
  if ((pde & PDE_PAGE_SIZE) !== 0) pa = ((pde & 0xffe00000) >>> 0) + (va & 0x1fffff);
  else {
    const pte = readPae(words, ((pde & 0xfffff000) >>> 0) + ((va >>> 12) & 0x1ff) * 8);
    if (pte < 0 || (pte & PTE_PRESENT) === 0) return -1;
    pa = ((pte & 0xfffff000) >>> 0) + (va & 0xfff);
  }
  return pa < 4 * words.length ? pa : -1;
}

/** The low dword of the 64-bit PAE entry at p, or -1 when it is outside RAM or points above 4 GiB. */
function readPae(words: Int32Array, p: number): number {
  const high = readPhys32(words, p + 4);
  return high >= 0 && (high & 0xfffff) === 0 ? readPhys32(words, p) : -1;
}

/**
 * Where return addresses may point: [start, end) pairs of linear addresses, from the executable
 * PT_LOAD segments of the kernel's ELF. A return address outside them ends a walk (garbage in EBP).
 * Returns null (accept any non-zero address) for an image without executable segments.
 */
export function codeRanges(elf: Elf32Image | null): Uint32Array | null {
  if (elf === null) return null;
  const segs = elf.loadSegments.filter((s) => (s.flags & PF_X) !== 0);
  if (segs.length === 0) return null;
  const out = new Uint32Array(2 * segs.length);
  segs.forEach((s, i) => {
    out[2 * i] = s.vaddr;
    out[2 * i + 1] = Math.min(2 ** 32 - 1, s.vaddr + s.memsz);
  });
  return out;
}

function inRanges(ranges: Uint32Array, addr: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (addr >= ranges[i]! && addr < ranges[i + 1]!) return true;
  return false;
}

/**
 * Walks the guest's frame-pointer chain into `out`: out[0] = eip, then each return address, at most
 * out.length entries. Returns how many were written (>= 1). Stops at EBP 0, a misaligned or
 * unmapped frame, a frame pointer that does not move up the stack, a return address of 0 or one
 * outside `code` (when given). `words` is guest RAM as ramWords() gives it. Allocates nothing and
 * never throws.
 */
export function walkStack(
  words: Int32Array,
  eip: number,
  ebp: number,
  cr0: number,
  cr3: number,
  cr4: number,
  out: Uint32Array,
  code: Uint32Array | null,
): number {
  out[0] = eip >>> 0;
  if (out.length === 1) return 1;
  return (cr0 & CR0_PG) === 0 ? walkFlat(words, ebp, out, code) : walkPaged(words, ebp >>> 0, cr0, cr3, cr4, out, code);
}

/**
 * The walk with paging off, where a frame pointer is a physical address. It reads each typed array's
 * bounds once and checks the usual single code range with two compares (a 6-frame walk went from 577
 * to 484 host instructions, callgrind). `w < lastWord` keeps both words of a frame inside RAM.
 * With a `trail`, the number of frames the walk read goes to trail[at] and each frame's two words
 * after it as (saved EBP, return address) pairs: the walk's result depends only on eip, ebp, those
 * words, RAM's size and `code`, which is what lets StackMemo (below) skip a walk whose words have
 * not changed. Where each pair was read needs no record: the first at ebp, each next one at the
 * saved EBP before it. The trail needs room for 2 * out.length + 1 ints from `at`.
 */
function walkFlat(words: Int32Array, ebp: number, out: Uint32Array, code: Uint32Array | null, trail: Int32Array | null = null, at = 0): number {
  const max = out.length;
  const lastWord = words.length - 1;
  const anyCode = code === null;
  const oneRange = code !== null && code.length === 2;
  const lo = oneRange ? code[0]! : 0;
  const hi = oneRange ? code[1]! : 0;
  // Frame pointers as int32: RAM is at most 2 GiB with paging off, so a pointer at or above 2^31
  // (negative here) is outside it, as is one whose frame would end past RAM.
  let fp = ebp | 0;
  let n = 1;
  let t = at + 1;
  while (n < max) {
    if (fp <= 0 || (fp & 3) !== 0) break;
    const w = fp >> 2;
    if (w >= lastWord) break;
    const next = words[w]!;
    const raw = words[w + 1]!;
    if (trail !== null) {
      trail[t] = next;
      trail[t + 1] = raw;
      t += 2;
    }
    const ret = raw >>> 0;
    if (ret === 0) break;
    if (!anyCode && (oneRange ? ret < lo || ret >= hi : !inRanges(code!, ret))) break;
    out[n++] = ret;
    if (next <= fp) break;
    fp = next;
  }
  if (trail !== null) trail[at] = (t - at - 1) >> 1;
  return n;
}

/**
 * The walk with paging on: each frame's two words are found through the guest's page tables. The
 * frames of one walk usually share a page, so the last page's translation is reused (the tables
 * cannot change during a walk: the guest is stopped); a frame straddling a page boundary translates
 * its second word separately.
 */
function walkPaged(words: Int32Array, fp: number, cr0: number, cr3: number, cr4: number, out: Uint32Array, code: Uint32Array | null): number {
  let n = 1;
  let page = -1;
  let pagePa = 0;
  while (n < out.length) {
    if (fp === 0 || (fp & 3) !== 0 || fp > 0xfffffff8) break;
    const va = (fp & 0xfffff000) >>> 0;
    if (va !== page) {
      pagePa = translate(words, va, cr0, cr3, cr4);
      if (pagePa < 0) break;
      page = va;
    }
    const pa = pagePa + (fp & 0xfff);
    const next = readPhys32(words, pa);
    const ret = (fp & 0xfff) === 0xffc ? readPhys32(words, translate(words, fp + 4, cr0, cr3, cr4)) : readPhys32(words, pa + 4);
    if (next < 0 || ret <= 0) break;
    if (code !== null && !inRanges(code, ret)) break;
    out[n++] = ret;
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

// A memo of guest backtraces for the hub (event-hub.ts), in front of the walk and the stack depot.
// A busy guest asks from a few call sites, each time with the same frame pointer and the same chain
// of frames above it: churn's get_free_page and free_page alternate between two stacks. A walk's
// result is a function of eip, ebp and the words it read (RAM's size, the code ranges and the depth
// being fixed for one hub), so the memo keeps, per (eip, ebp), the words its last walk read, as
// walkFlat's trail gives them, and the depot handle that walk interned. When every one of those words
// still holds the same value, the walk would read the same words again and return the same frames:
// the memo's handle is the walk's handle, exactly, and costs a compare per word read instead of a
// walk and an intern (npm run bench:observe, 6 frames: the page's stacks went from 984 to 611 host
// instructions per call, callgrind). Any changed word, a new RAM view (v86 grew its memory) or
// another (eip, ebp) in the slot means a real walk. The last two shallow walks looked up are also
// kept in object fields (RecentWalk) and checked first: a guest alternating two stacks is answered
// there without the table's typed-array reads.
// Paging off only: with paging on the walk also reads the guest's page tables, and the hub walks.

export class StackMemo {
  /** The RAM words the slots' trails were read from; another view empties every slot. */
  private words: Int32Array | null = null;
  /**
   * Per slot, slotLength ints: the depot handle of its walk (MEMO_EMPTY: none), that walk's EIP and
   * EBP, then walkFlat's trail (a frame count, then a (saved EBP, return address) pair per frame).
   * One array: V8 checks and loads each typed array a lookup touches, so three tables cost more.
   */
  private readonly table: Int32Array;
  private readonly slotLength: number;
  /**
   * The last two walks of at most RECENT_FRAMES frames that the memo looked up in its table, checked
   * before it: a busy guest's calls come from one or two stacks in turn. A walk of an (eip, ebp) one
   * of them holds replaces it, another walk the older one. Their trails are object fields, where the
   * table's cost V8 a bounds check, an address and a spill per word (RecentWalk).
   */
  private readonly recentA = new RecentWalk();
  private readonly recentB = new RecentWalk();
  private replaceA = true;
  /** The recent walks in WebAssembly, when the hub's guest runs in a memory it can read (useSampler). */
  private wasm: CallSampler | null = null;
  /** The deepest walk remembered as a recent one: RecentWalk's six, or the sampler's SAMPLER_FRAMES. */
  private recentFrames: number;

  /** `frames` is the hub's walk buffer: its length is the walk's depth for every call. */
  constructor(
    private readonly frames: Uint32Array,
    private readonly code: Uint32Array | null,
    private readonly depot: StackDepot,
  ) {
    // Room for RECENT_FRAMES pairs at least, which RecentWalk.take copies whatever the depth.
    this.slotLength = 3 + 1 + 2 * Math.max(frames.length, RECENT_FRAMES, SAMPLER_FRAMES);
    this.recentFrames = RECENT_FRAMES;
    this.table = new Int32Array(MEMO_SLOTS * this.slotLength);
    this.clear();
  }

  /**
   * The depot handle of the backtrace at (eip, ebp) with paging off, as walkStack and intern would
   * give it; walks only when a word the last walk from this (eip, ebp) read has changed.
   */
  handle(words: Int32Array, eip: number, ebp: number): number {
    if (words !== this.words) {
      this.clear();
      this.words = words;
    }
    const e = eip | 0;
    const b = ebp | 0;
    const wasm = this.wasm;
    if (wasm !== null) {
      const recent = wasm.find(e, b);
      if (recent >= 0) return recent;
    } else {
      if (this.recentA.holds(words, e, b)) return this.recentA.handle;
      if (this.recentB.holds(words, e, b)) return this.recentB.handle;
    }
    const slot = Math.imul(e ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b) >>> (32 - MEMO_SLOT_BITS);
    const table = this.table;
    const at = slot * this.slotLength;
    let handle = table[at]!;
    const hit = handle !== MEMO_EMPTY && table[at + 1] === e && table[at + 2] === b && trailHolds(words, table, at + 3, b >> 2);
    if (!hit) {
      const frames = this.frames;
      frames[0] = eip >>> 0;
      const depth = walkFlat(words, ebp, frames, this.code, table, at + 3);
      handle = this.depot.intern(frames, depth);
      table[at] = handle;
      table[at + 1] = e;
      table[at + 2] = b;
    }
    // A deeper walk would only empty a record that a shallow stack's next call may find.
    if (table[at + 3]! <= this.recentFrames) this.remember(table, at, e, b, handle);
    return handle;
  }

  /** Puts the table's walk at `at` of (e, b) in the record of (e, b), else in the older record. */
  private remember(table: Int32Array, at: number, e: number, b: number, handle: number): void {
    const a = this.recentA;
    const other = this.recentB;
    let walk: RecentWalk;
    if (a.eip === e && a.ebp === b) walk = a;
    else if (other.eip === e && other.ebp === b) walk = other;
    else {
      walk = this.replaceA ? a : other;
      this.replaceA = !this.replaceA;
    }
    walk.take(table, at, handle);
    this.wasm?.put(walk === a ? 0 : 1, e, b, handle, walk.frames, table, at + 4);
  }

  /**
   * From now on the two recent walks are kept and checked by the hub's call sampler, in WebAssembly
   * over the emulator's memory (call-sampler-wasm.ts), which must hold the RAM that handle()'s
   * `words` view; null: in JavaScript (RecentWalk).
   */
  useSampler(wasm: CallSampler | null): void {
    this.wasm = wasm;
    this.recentFrames = wasm === null ? RECENT_FRAMES : SAMPLER_FRAMES;
    this.clear();
  }

  private clear(): void {
    for (let slot = 0; slot < MEMO_SLOTS; slot++) this.table[slot * this.slotLength] = MEMO_EMPTY;
    this.recentA.forget();
    this.recentB.forget();
    this.wasm?.forget();
    this.replaceA = true;
  }
}

/**
 * One walk of at most RECENT_FRAMES frames that the memo looked up lately: its EIP, EBP and handle,
 * and its trail (as the table's, see StackMemo) in fields s0/r0 .. s5/r5 (saved EBP and return
 * address per frame). `frames` is the trail's frame count, or -1 when the record holds no walk (none
 * yet, or forgotten with a RAM view). A field is one load after one map check; a trail word in the
 * table cost V8 about seven instructions (bounds check, address, spill), so checking a four-frame
 * trail here reads the eight RAM words and compares them with fields.
 */
class RecentWalk {
  eip = 0;
  ebp = 0;
  handle = MEMO_EMPTY;
  frames = -1;
  s0 = 0;
  r0 = 0;
  s1 = 0;
  r1 = 0;
  s2 = 0;
  r2 = 0;
  s3 = 0;
  r3 = 0;
  s4 = 0;
  r4 = 0;
  s5 = 0;
  r5 = 0;

  /** True when this is the walk from (e, b) and every word its trail read still holds (trailHolds). */
  holds(words: Int32Array, e: number, b: number): boolean {
    const n = this.frames;
    if (this.eip !== e || this.ebp !== b || n < 0) return false;
    if (n === 0) return true;
    let w = b >> 2;
    if (words[w] !== this.s0 || words[(w + 1) | 0] !== this.r0) return false;
    if (n === 1) return true;
    w = this.s0 >> 2;
    if (words[w] !== this.s1 || words[(w + 1) | 0] !== this.r1) return false;
    if (n === 2) return true;
    w = this.s1 >> 2;
    if (words[w] !== this.s2 || words[(w + 1) | 0] !== this.r2) return false;
    if (n === 3) return true;
    w = this.s2 >> 2;
    if (words[w] !== this.s3 || words[(w + 1) | 0] !== this.r3) return false;
    if (n === 4) return true;
    w = this.s3 >> 2;
    if (words[w] !== this.s4 || words[(w + 1) | 0] !== this.r4) return false;
    if (n === 5) return true;
    w = this.s4 >> 2;
    return words[w] === this.s5 && words[(w + 1) | 0] === this.r5;
  }

  /** Takes the walk of the memo table's slot at `at` (EIP, EBP, trail), whose handle is `handle`. */
  take(table: Int32Array, at: number, handle: number): void {
    const n = table[at + 3]!;
    this.eip = table[at + 1]!;
    this.ebp = table[at + 2]!;
    this.handle = handle;
    this.frames = n;
    const t = at + 4;
    // Words past the trail's end are never compared (holds stops at `frames`).
    this.s0 = table[t]!;
    this.r0 = table[t + 1]!;
    this.s1 = table[t + 2]!;
    this.r1 = table[t + 3]!;
    this.s2 = table[t + 4]!;
    this.r2 = table[t + 5]!;
    this.s3 = table[t + 6]!;
    this.r3 = table[t + 7]!;
    this.s4 = table[t + 8]!;
    this.r4 = table[t + 9]!;
    this.s5 = table[t + 10]!;
    this.r5 = table[t + 11]!;
  }

  forget(): void {
    this.frames = -1;
  }
}

/**
 * True when every word a trail (walkFlat's, from `t`) records still holds its value; `w` is the word
 * index of the first frame (EBP >> 2), and each next frame's is its saved EBP >> 2, as the walk
 * found them. Four frames per round: V8 re-checks both arrays' maps and reloads their lengths and
 * data pointers after each loop back edge (its stack check may run anything), about 45 host
 * instructions per frame one frame per round; inside a round it checks them once. The `| 0` on each
 * index spares an overflow check per read. Two trail reads per frame, not three: the word index is
 * the saved EBP just compared.
 */
function trailHolds(words: Int32Array, trail: Int32Array, t: number, w: number): boolean {
  for (let n = trail[t]!; ; n -= 4) {
    if (n === 0) return true;
    const e0 = trail[(t + 1) | 0]!;
    if (words[w] !== e0 || words[(w + 1) | 0] !== trail[(t + 2) | 0]) return false;
    if (n === 1) return true;
    const w1 = e0 >> 2;
    const e1 = trail[(t + 3) | 0]!;
    if (words[w1] !== e1 || words[(w1 + 1) | 0] !== trail[(t + 4) | 0]) return false;
    if (n === 2) return true;
    const w2 = e1 >> 2;
    const e2 = trail[(t + 5) | 0]!;
    if (words[w2] !== e2 || words[(w2 + 1) | 0] !== trail[(t + 6) | 0]) return false;
    if (n === 3) return true;
    const w3 = e2 >> 2;
    const e3 = trail[(t + 7) | 0]!;
    if (words[w3] !== e3 || words[(w3 + 1) | 0] !== trail[(t + 8) | 0]) return false;
    w = e3 >> 2;
    t = (t + 8) | 0;
  }
}

/**
 * The hub's backtraces, into the shared stack depot: the memo with paging off, a walk with it on. The
 * page's call sampler may know the call's stack already (its block writer found it among the recent
 * walks, call-sampler-wasm.ts); a stack walked here is put into the sampler for the next call.
 */
export class CallStacks {
  readonly depot = new StackDepot();
  private readonly frames: Uint32Array;
  private readonly ramWords = new RamWords();
  private readonly memo: StackMemo;
  private wasm: CallSampler | null = null;

  /** Walks of up to `depth` frames (1..64), stopping outside `code` when given. */
  constructor(
    depth = DEFAULT_STACK_DEPTH,
    private readonly code: Uint32Array | null = null,
  ) {
    if (!Number.isInteger(depth) || depth < 1 || depth > 64) throw new Error(`EventHub: stack depth ${depth} is not in 1..64`);
    this.frames = new Uint32Array(depth);
    this.memo = new StackMemo(this.frames, code, this.depot);
  }

  /** The guest's call sampler in WebAssembly, or null (a guest outside one, or none). */
  useSampler(wasm: CallSampler | null): void {
    this.wasm = wasm;
    this.memo.useSampler(wasm);
  }

  /** The handle of the one-frame stack at address 0: a call's backtrace without a guest CPU. */
  none(): number {
    this.frames[0] = 0;
    return this.depot.intern(this.frames, 1);
  }

  /**
   * The handle of the backtrace of the call in progress, whose `in` is at `eip` with `cr0`: only
   * inside a port handler, where the guest's registers and `ram` are the call's.
   */
  of(g: GuestRegisters, ram: Uint8Array, eip: number, cr0: number): number {
    const wasm = this.wasm;
    let stack = wasm !== null ? wasm.stack : -1;
    if (stack >= 0) return stack;
    const words = this.ramWords.of(ram);
    if ((cr0 & CR0_PG) === 0) stack = this.memo.handle(words, eip, g.reg32[REG_EBP]!);
    else stack = this.depot.intern(this.frames, walkStack(words, eip, g.reg32[REG_EBP]!, cr0, g.cr3, g.cr4, this.frames, this.code));
    wasm?.setStack(stack);
    return stack;
  }
}
