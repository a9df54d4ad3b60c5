// The hub's backtraces: the guest's stack at a call, walked into the shared stack depot. With paging
// off (the usual kernel's stacks) the stack memo walks only when the words a walk would read changed
// (stack-walk.ts); with the guest in a WebAssembly memory, the call sampler may know the call's stack
// already (its block writer found it among the recent walks, call-sampler-wasm.ts), and a stack
// walked here is put into the sampler for the next call. The hub keeps one handle per call.

import type { GuestRegisters } from "../machine/bridge.js";
import type { CallSampler } from "./call-sampler-wasm.js";
import { CR0_PG, REG_EBP } from "./layout.js";
import { StackDepot } from "./stack-depot.js";
import { DEFAULT_STACK_DEPTH, RamWords, StackMemo, walkStack } from "./stack-walk.js";

export class CallStacks {
  readonly depot = new StackDepot();
  private readonly frames: Uint32Array;
  private readonly ramWords = new RamWords();
  private readonly memo: StackMemo;
  private wasm: CallSampler | null = null;

  /** Walks of up to `depth` frames (1..64), stopping outside `code` when given (stack-walk.ts). */
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
