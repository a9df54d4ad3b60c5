// The web page's allocs and frees written into its event ring by one WebAssembly call: the arena's
// block writer (owner-wasm.ts) samples the call with the hub's call sampler (call-sampler-wasm.ts),
// finds its backtrace among the recent walks and writes the ring entry, without the hub's sampling,
// dispatch and store in JavaScript between (about 620 host instructions per churn call there,
// docs/web-speed.md). The hub asks it first for each alloc and free while the ring is its only block
// subscriber; an event it leaves (no recent walk, paging on) takes the hub's usual path, whose memo
// then puts the walk into the sampler for the next call.

import type { CallSampler } from "./call-sampler-wasm.js";
import { packBlock, type EventRing } from "./event-ring.js";
import type { BuddyAllocator } from "../mem/index.js";
import type { BlockWriterExports, OwnerArena, RequestWriter } from "./owner-wasm.js";

export class ArenaRingWriter {
  private writer: BlockWriterExports | null = null;
  /** The allocator whose zone bounds the writer has (zones()). */
  private zonesOf: BuddyAllocator | null = null;

  /** `ring` is kept in `arena` (EventRing's storage) and subscribed to the hub that asks. */
  constructor(
    private readonly arena: OwnerArena,
    readonly ring: EventRing,
  ) {}

  /**
   * It writes only with a call sampler, and while the ring is the hub's only block subscriber (the
   * hub's lists of onBlock subscribers and of the onEvent-only ones that take blocks).
   */
  refresh(sampler: CallSampler | null, blockSubscribers: readonly unknown[], blockEventSubscribers: readonly unknown[]): void {
    const alone = blockSubscribers.length === 1 && blockSubscribers[0] === this.ring && blockEventSubscribers.length === 0;
    this.writer = sampler !== null && alone ? this.arena.blockWriter(sampler.exports) : null;
    this.zonesOf = null;
  }

  /**
   * The writer's request function (owner-wasm.ts, BlockWriterExports) for `buddy`'s page requests,
   * given the allocator's zone bounds first; null while the writer is not writing. The hub calls it
   * itself from onCall, one JavaScript call less per page request: request(ring.nextSlot, cmd, arg0,
   * arg1, result, seq), then ring.noteStored() when it gave 1.
   */
  forRequests(buddy: BuddyAllocator): RequestWriter | null {
    const writer = this.writer;
    if (writer === null) return null;
    if (this.zonesOf !== buddy) writer.zones(buddy.basePfn, buddy.dmaEndIdx, buddy.normalEndIdx);
    this.zonesOf = buddy;
    return writer.request;
  }

  /**
   * Writes an alloc or free (code KIND_ALLOC or KIND_FREE) of call `seq`; false when it did not and
   * the hub must. `record` is the hub's BATCH record index for a call it sampled, RECORD_FROM_COMMAND
   * for one it has not (the writer then takes the sampler's command: 0 for a BATCH, else -1).
   */
  write(code: number, seq: number, record: number, pfn: number, order: number, npages: number, zone: number, gfp: number): boolean {
    const writer = this.writer;
    if (writer === null) return false;
    const ring = this.ring;
    if (writer.block(ring.nextSlot, packBlock(code, order, zone), record, pfn, npages, gfp, seq) === 0) return false;
    ring.noteStored();
    return true;
  }

}
