// The event ring: every event of a run's EventHub, the newest EVENT_RING_SIZE, as numbers (E_STRIDE
// ints per event, its call number and instruction count beside them). The web page records its run
// here only: its event log draws the ring, and its page owner (present-owner.ts) is a reader that
// applies the ring in bulk, when asked and every EVENT_RING_HALF events, so that a hypercall pays for
// one entry rather than for every subscriber's code (docs/web-speed.md). A replay fills a ring of its
// own by push(). ArenaRingWriter (below) writes the page's allocs and frees in WebAssembly.

import { eventKindCode, type AllocatorEvent, type EventSubscriber } from "./events.js";
import type { EventHub } from "./event-hub.js";
import type { OwnerArena, RingStore } from "./owner-wasm.js";
import { WRITTEN_DUE, WRITTEN_PENDING, type BlockWriterExports, type RequestWriter } from "./ring-writer-wasm.js";
import type { CallSampler } from "./call-sampler-wasm.js";
import type { BuddyAllocator } from "../mem/index.js";
import {
  EK_CMD_SHIFT,
  EK_KIND_MASK,
  EK_ORDER_SHIFT,
  EK_STATUS_MASK,
  EK_STATUS_SHIFT,
  EK_ZONE_SHIFT,
  EF_ICOUNT,
  EF_SEQ,
  EF_STRIDE,
  EVENT_RING_HALF,
  EVENT_RING_SIZE,
  E_EIP,
  E_GFP,
  E_KIND,
  E_NPAGES,
  E_PFN,
  E_RECORD,
  E_STACK,
  E_STRIDE,
  KIND_FREE,
  KIND_MARK,
  KIND_PROTOCOL_ERROR,
} from "./layout.js";

export { EVENT_RING_SIZE };

/** Kinds at or above this code may carry a label (mark, protocol-error); the others never do. */
const FIRST_LABELLED_KIND = KIND_MARK;
/** The packed status of an event that answers no request (a port misuse, status -1). */
const NO_STATUS = EK_STATUS_MASK;

/** Something that reads the ring in order and must do so before it laps them (PresentOwner). */
export interface RingReader {
  /** Reads every event up to the ring's total. Called at least every EVENT_RING_HALF events. */
  catchUp(): void;
}

/** A packed order or command outside what its 8 bits hold (a guest's bad argument). */
const OUT_OF_RANGE = 0xff;

/**
 * The E_KIND word of an event. `cmd` is kept only for protocol errors (-1 otherwise). A guest's
 * order or command out of the field's range is kept as out of range (orderOf -1, cmdOf 254), never
 * spilling into the next field. Kind codes fit 4 bits and statuses 0..14 (15 is "no request").
 */
export function packKind(code: number, status: number, order: number, zone: number, cmd: number): number {
  const o = order >= -1 && order < OUT_OF_RANGE - 1 ? order + 1 : OUT_OF_RANGE;
  const c = cmd >= -1 && cmd < OUT_OF_RANGE - 1 ? cmd + 1 : OUT_OF_RANGE;
  return code | ((status < 0 ? NO_STATUS : status & EK_STATUS_MASK) << EK_STATUS_SHIFT) | (o << EK_ORDER_SHIFT) | ((zone + 1) << EK_ZONE_SHIFT) | (c << EK_CMD_SHIFT);
}

/** The E_KIND word of an alloc, free, split or merge (no status, no command), as the hub tells it (onBlock). */
export function packBlock(code: number, order: number, zone: number): number {
  return code | ((order + 1) << EK_ORDER_SHIFT) | ((zone + 1) << EK_ZONE_SHIFT);
}

/** The kind code (layout.ts KIND_*) of a packed E_KIND word. */
export function kindOf(packed: number): number {
  return packed & EK_KIND_MASK;
}

/** The status of a packed word: an ABI status, or -1 for an event that answers no request. */
export function statusOf(packed: number): number {
  const s = (packed >> EK_STATUS_SHIFT) & EK_STATUS_MASK;
  return s === NO_STATUS ? -1 : s;
}

/** The order of a packed word, -1 for none (a contig range, a kind without one, or out of range). */
export function orderOf(packed: number): number {
  const o = (packed >> EK_ORDER_SHIFT) & 0xff;
  return o === OUT_OF_RANGE ? -1 : o - 1;
}

/** The zone of a packed word, -1 for none. */
export function zoneOf(packed: number): number {
  return ((packed >> EK_ZONE_SHIFT) & 0xff) - 1;
}

/** The command of a protocol error (254 standing for any of 254 and above), -1 for any other event. */
export function cmdOf(packed: number): number {
  return (packed >>> EK_CMD_SHIFT) - 1;
}

export class EventRing implements EventSubscriber {
  /**
   * The count and the due mark (see dueAt), as two float64s: the arena's (OwnerArena.ringCounts),
   * where its block writers count the entries they write themselves (afterWritten), else the ring's
   * own.
   */
  private readonly counts: Float64Array;

  /** Events ever stored (the ring holds the last EVENT_RING_SIZE). */
  get total(): number {
    return this.counts[0]!;
  }
  set total(n: number) {
    this.counts[0] = n;
  }
  /** E_STRIDE ints per event (layout.ts E_*), slot n & (EVENT_RING_SIZE - 1) for event n. */
  readonly ints: Int32Array;
  /** EF_STRIDE float64s per event, by slot: the call number and the call's instruction count. */
  readonly floats: Float64Array;
  /** Labels (MARKs, port misuse) by ring slot (rare, so a map). */
  private readonly labels = new Map<number, string>();
  /** The event numbers of the labelled events still in the ring, oldest first. */
  private labelled: number[] = [];
  private readonly readers: RingReader[] = [];
  /**
   * The first event number at which noteStored has more to do than count it: the oldest label's
   * entry overwritten, or (with readers) the end of a half ring. One compare per store, where testing
   * both every time kept noteStored out of its callers (about 46 host instructions per page request).
   */
  private get dueAt(): number {
    return this.counts[1]!;
  }
  private set dueAt(n: number) {
    this.counts[1] = n;
  }
  /** The arena's store of one entry, when the ring is an arena's (owner-wasm.ts). */
  private readonly wasmStore: RingStore | null;
  /**
   * The number of the first alloc, free or protocol error since the owner's last catch-up that the
   * arena's block writer did not apply to the owner's records as it wrote it (-1: none). Every alloc
   * and free before it (since that catch-up) was applied so; the catch-up reads the ring from here.
   */
  pendingFrom = -1;
  /** The arena's owner-pending word, which the block writer reads: 1 while pendingFrom is set. */
  private readonly pendingWord: Int32Array | null;

  /**
   * `hub`: the run's hub, whose call in progress gives each alloc and free (and protocol error) its
   * backtrace, EIP and instruction count; null for a ring filled by push() alone (a replay).
   * `storage`: the arrays to keep the ring in (an OwnerArena's, owner-wasm.ts), else its own.
   */
  constructor(
    private readonly hub: EventHub | null,
    storage: { ringInts: Int32Array; ringFloats: Float64Array; ringStore: RingStore; ownerPending: Int32Array; ringCounts: Float64Array } | null = null,
  ) {
    this.counts = storage?.ringCounts ?? new Float64Array(2);
    this.counts[0] = 0;
    this.counts[1] = Infinity;
    this.ints = storage?.ringInts ?? new Int32Array(EVENT_RING_SIZE * E_STRIDE);
    this.floats = storage?.ringFloats ?? new Float64Array(EVENT_RING_SIZE * EF_STRIDE);
    this.wasmStore = storage?.ringStore ?? null;
    this.pendingWord = storage?.ownerPending ?? null;
    if (this.ints.length !== EVENT_RING_SIZE * E_STRIDE || this.floats.length !== EVENT_RING_SIZE * EF_STRIDE) throw new Error("invariant: an event ring's storage is not one ring long");
  }

  /** Allocations and frees are logged with their backtraces when there is a hub to walk them. */
  get blockStacks(): boolean {
    return this.hub !== null;
  }

  /** An alloc, free, split or merge from the hub, as numbers (EventSubscriber.onBlock). */
  onBlock(code: number, seq: number, record: number, pfn: number, order: number, npages: number, zone: number, gfp: number, stack: number): void {
    const hub = this.hub!;
    this.store(packBlock(code, order, zone), seq, record, pfn, npages, gfp, hub.hasGuest ? stack : -1, hub.callEip, hub.callIcount);
  }

  /** Every other event from the hub; any event from a test or a replay feeding the ring directly. */
  onEvent(e: Readonly<AllocatorEvent>): void {
    const hub = this.hub;
    const code = eventKindCode(e.kind);
    const walked = code <= KIND_FREE || code === KIND_PROTOCOL_ERROR;
    this.push(e, walked && hub !== null && hub.hasGuest ? hub.currentStack() : -1);
  }

  /** Stores one event; `stack` is its stack handle or -1. */
  push(e: Readonly<AllocatorEvent>, stack: number): void {
    const code = eventKindCode(e.kind);
    const n = this.store(packKind(code, e.status, e.order, e.zone, code === KIND_PROTOCOL_ERROR ? e.cmd : -1), e.seq, e.record, e.pfn, e.npages, e.gfp, stack, e.eip, e.icount);
    if (code >= FIRST_LABELLED_KIND && e.label !== "") {
      this.labels.set(n & (EVENT_RING_SIZE - 1), e.label);
      this.labelled.push(n);
      this.dueAt = this.nextDue(this.total);
    }
  }

  /** Writes the next entry; returns its number. Every EVENT_RING_HALF events the readers catch up. */
  private store(packed: number, seq: number, record: number, pfn: number, npages: number, gfp: number, stack: number, eip: number, icount: number): number {
    const slot = this.nextSlot;
    const kind = packed & EK_KIND_MASK;
    if (kind <= KIND_FREE || kind === KIND_PROTOCOL_ERROR) this.markPending(this.total);
    // `| 0` is what the store does anyway (ToInt32), written out: V8 then truncates a small integer
    // directly, where a store of a value it knows only as a number went through a double.
    const wasm = this.wasmStore;
    if (wasm !== null) wasm(slot, packed | 0, record | 0, pfn | 0, npages | 0, gfp | 0, stack | 0, eip | 0, seq, icount);
    else {
      const r = this.ints;
      const p = slot * E_STRIDE;
      r[p + E_KIND] = packed | 0;
      r[p + E_RECORD] = record | 0;
      r[p + E_PFN] = pfn | 0;
      r[p + E_NPAGES] = npages | 0;
      r[p + E_GFP] = gfp | 0;
      r[p + E_STACK] = stack | 0;
      r[p + E_EIP] = eip | 0;
      const f = slot * EF_STRIDE;
      this.floats[f + EF_SEQ] = seq;
      this.floats[f + EF_ICOUNT] = icount;
    }
    return this.noteStored();
  }

  /**
   * The rest of an entry the arena's block writer wrote and counted itself (its result `written`,
   * ring-writer-wasm.ts; nothing to do for WRITTEN_APPLIED alone): an alloc or free it did not apply
   * to the owner's records waits for the catch-up, and an entry that reached the due mark runs
   * noteStored's rare work.
   */
  afterWritten(written: number): void {
    const n = this.total - 1;
    if ((written & WRITTEN_PENDING) !== 0) this.markPending(n);
    if ((written & WRITTEN_DUE) !== 0) this.due(n);
  }

  /** Event n, about to be stored, is an alloc, free or protocol error the owner's catch-up must apply. */
  private markPending(n: number): void {
    if (this.pendingFrom >= 0) return;
    this.pendingFrom = n;
    if (this.pendingWord !== null) this.pendingWord[0] = 1;
  }

  /** The owner caught up with every event stored: nothing waits (its catch-up calls this). */
  clearPending(): void {
    this.pendingFrom = -1;
    if (this.pendingWord !== null) this.pendingWord[0] = 0;
  }

  /** The count and the due mark themselves, for a hot caller that reads the count (EventHub.onCall). */
  get countsView(): Float64Array {
    return this.counts;
  }

  /** The slot of the next entry: total & (EVENT_RING_SIZE - 1). */
  get nextSlot(): number {
    return this.total & (EVENT_RING_SIZE - 1);
  }

  /**
   * Counts the entry store() just wrote at slot total & (EVENT_RING_SIZE - 1) (the arena's block
   * writers count their own, see afterWritten); returns its number. Every EVENT_RING_HALF events the
   * readers catch up.
   */
  noteStored(): number {
    const n = this.total++;
    if (n >= this.dueAt) this.due(n);
    return n;
  }

  /** noteStored's rare work at entry n: forget the label it overwrote, let the readers catch up. */
  private due(n: number): void {
    // Labels are at distinct event numbers, so at most one entry's label is overwritten per store.
    if (this.labelled.length > 0 && this.labelled[0]! <= n - EVENT_RING_SIZE) this.labels.delete(this.labelled.shift()! & (EVENT_RING_SIZE - 1));
    if (((n + 1) & (EVENT_RING_HALF - 1)) === 0 && this.readers.length > 0) for (const reader of this.readers) reader.catchUp();
    this.dueAt = this.nextDue(n + 1);
  }

  /** dueAt for the entries from number `from` on. */
  private nextDue(from: number): number {
    // The first n >= from that ends a half ring: n + 1 a multiple of EVENT_RING_HALF.
    const half = this.readers.length > 0 ? from + (EVENT_RING_HALF - 1 - (from % EVENT_RING_HALF)) : Infinity;
    return this.labelled.length > 0 ? Math.min(half, this.labelled[0]! + EVENT_RING_SIZE) : half;
  }

  /** Adds a reader; it must read from the ring's current total on (a new ring: from event 0). */
  addReader(reader: RingReader): void {
    this.readers.push(reader);
    this.dueAt = this.nextDue(this.total);
  }

  /** Forgets every event (a replay's new position). A ring with readers is never cleared. */
  clear(): void {
    if (this.readers.length > 0) throw new Error("invariant: an event ring with readers was cleared");
    this.total = 0;
    this.labels.clear();
    this.labelled = [];
    this.dueAt = Infinity;
  }

  /** Events still in the ring. */
  get size(): number {
    return Math.min(this.total, EVENT_RING_SIZE);
  }

  /** The ring slot of event number n (the caller checks that n is still in the ring). */
  slotOf(n: number): number {
    return n & (EVENT_RING_SIZE - 1);
  }

  /** The label of the event at a slot ("" for none). */
  labelAt(slot: number): string {
    return this.labels.get(slot) ?? "";
  }
}

/**
 * The web page's allocs and frees written into its event ring by one WebAssembly call: the arena's
 * block writer (ring-writer-wasm.ts) samples the call with the hub's call sampler (call-sampler-wasm.ts),
 * finds its backtrace among the recent walks and writes the ring entry, without the hub's sampling,
 * dispatch and store in JavaScript between (about 620 host instructions per churn call there,
 * docs/web-speed.md). The hub asks it first for each alloc and free while the ring is its only block
 * subscriber; an event it leaves (no recent walk, paging on) takes the hub's usual path, whose memo
 * then puts the walk into the sampler for the next call.
 */
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
   * The writer's request function (ring-writer-wasm.ts, BlockWriterExports) for `buddy`'s page
   * requests, given the allocator's zone bounds first; null while the writer is not writing. The hub
   * calls it itself from onCall, one JavaScript call less per page request: request(ring.nextSlot,
   * cmd, arg0, arg1, result, seq), which counts the entry it writes, then ring.afterWritten(result)
   * when the result is neither 0 nor WRITTEN_APPLIED.
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
    const written = writer.block(ring.nextSlot, packBlock(code, order, zone), record, pfn, npages, gfp, seq);
    if (written === 0) return false;
    ring.afterWritten(written);
    return true;
  }
}
