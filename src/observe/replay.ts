// Any moment of a run, rebuilt after the fact. The allocator is deterministic: the same requests in
// the same order give the same state. So the page requests that changed it (EventSubscriber.onRequest)
// are logged in typed arrays, and the state after call N is a fresh allocator over the same memory
// map with the same options, fed the logged requests up to N. Each replayed answer is checked against
// the logged one: a divergence is a bug in our code and throws. This is what lets `--at peak` show the
// free lists at the peak without copying the allocator every time a new peak is reached.

import { BuddyAllocator, type MemoryMap, type PcpOptions } from "../mem/index.js";
import { Cmd } from "../protocol/abi.js";
import type { EventSubscriber } from "./events.js";
import { grow } from "./stack-depot.js";

export class RequestLog implements EventSubscriber {
  count = 0;
  private seqs = new Float64Array(1024);
  private cmds = new Uint8Array(1024);
  private args = new Uint32Array(3 * 1024);
  private results = new Uint32Array(1024);

  onRequest(seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number): void {
    const i = this.count;
    if (i === this.seqs.length) {
      this.seqs = grow(this.seqs, i + 1);
      this.cmds = grow(this.cmds, i + 1);
      this.args = grow(this.args, 3 * (i + 1));
      this.results = grow(this.results, i + 1);
    }
    this.seqs[i] = seq;
    this.cmds[i] = cmd;
    this.args[3 * i] = arg0;
    this.args[3 * i + 1] = arg1;
    this.args[3 * i + 2] = arg2;
    this.results[i] = result;
    this.count++;
  }

  /**
   * A new allocator in the state the live one had after call `seq` (Infinity: the end). `map` and
   * the options must be those the live allocator was built with. Throws when a replayed request
   * answers differently from the logged one.
   */
  rebuild(map: MemoryMap, options: { maxOrder: number; pcp: PcpOptions }, seq: number): BuddyAllocator {
    const buddy = new BuddyAllocator(map, { maxOrder: options.maxOrder, pcp: options.pcp });
    for (let i = 0; i < this.count && this.seqs[i]! <= seq; i++) {
      const a0 = this.args[3 * i]!;
      const a1 = this.args[3 * i + 1]!;
      const a2 = this.args[3 * i + 2]!;
      const cmd = this.cmds[i]!;
      let got: number;
      if (cmd === Cmd.ALLOC_PAGES) got = buddy.tryAllocPages(a0, a1);
      else if (cmd === Cmd.FREE_PAGES) got = buddy.tryFreePages(a0, a1);
      else if (cmd === Cmd.ALLOC_CONTIG) got = buddy.tryAllocContig(a0, a1, a2);
      else got = buddy.tryFreeContig(a0, a1);
      const isAlloc = cmd === Cmd.ALLOC_PAGES || cmd === Cmd.ALLOC_CONTIG;
      if ((isAlloc && got >>> 0 !== this.results[i]) || (!isAlloc && got !== 0)) {
        throw new Error(`invariant: replay diverged at call ${this.seqs[i]}: command 0x${cmd.toString(16)} answered ${got}, the run got ${this.results[i]}`);
      }
    }
    return buddy;
  }
}

/** The options a live allocator was built with, to rebuild its twin. */
export function allocatorOptions(buddy: BuddyAllocator): { maxOrder: number; pcp: PcpOptions } {
  return { maxOrder: buddy.maxOrder, pcp: buddy.pcpMaxOrder < 0 ? false : { high: buddy.pcpHigh, batch: buddy.pcpBatch } };
}
