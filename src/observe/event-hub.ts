// The EventHub turns the two hooks of a run, the bridge's observer (every port call and BATCH record,
// with its status) and the allocator's listener (every alloc, free, split, merge, failure, drain),
// into one typed event stream (events.ts) for its subscribers. It samples the guest CPU once per call
// (EIP of the `in`, instruction counter, command) and walks the guest stack at most once per call,
// on demand, into a shared stack depot (stack-walk.ts, CallStacks). One reused event object, no
// allocation per call.
// Without a hub the machine pays nothing: the bridge's observer and the allocator's listener stay null.

import { fanOutListener, type BuddyAllocator, type BuddyListener } from "../mem/index.js";
import { ENOMEM, OK } from "../mem/errors.js";
import { PAGE_SHIFT } from "../mem/constants.js";
import { HC_ALLOC_CONTIG, HC_ALLOC_PAGES, HC_BATCH, HC_FREE_CONTIG, HC_FREE_PAGES, HC_MARK, HC_MEMMAP } from "../protocol/codes.js";
import type { BridgeObserver, GuestRegisters, HypercallBridge } from "../machine/bridge.js";
import { CallEndSubscribers, EVENT_KINDS, blankEvent, type AllocatorEvent, type EventHubOptions, type EventSubscriber, type OnBlock, type OnCallEnd, type OnEvent, type OnRequest } from "./events.js";
import { EVENT_RING_SIZE, KIND_ALLOC, KIND_FAIL, KIND_FREE, KIND_MARK, KIND_MERGE, KIND_PCP_DRAIN, KIND_PROTOCOL_ERROR, KIND_SPLIT } from "./layout.js";
import type { StackDepot } from "./stack-depot.js";
import { CallStacks } from "./stack-walk.js";
import { JsCallSampler, type CallSampling } from "./call-sampler.js";
import { CallSampler } from "./call-sampler-wasm.js";
import type { OwnerArena } from "./owner-wasm.js";
import { RECORD_FROM_COMMAND, WRITTEN_APPLIED, type RequestWriter } from "./ring-writer-wasm.js";
import { ArenaRingWriter, type EventRing } from "./event-ring.js";

export class EventHub implements BridgeObserver, BuddyListener {
  /**
   * The hub tells its subscribers of each page request (an alloc or free page call, or BATCH record,
   * that ended OK) from the bridge's onCall and onRecord, so an allocator whose only listener is the
   * hub serves them on its fast paths (BuddyListener.reportsPageRequests). The order of events is the
   * allocator's own: an alloc after the splits it caused, a free before its merges and drain
   * (freeFirst). With another listener beside the hub, the allocator tells them, and the hub passes
   * on what it is told.
   */
  readonly reportsPageRequests = true;
  readonly depot: StackDepot;
  // The subscribers of each hook, called as methods: V8 then sees a few receiver classes at each
  // dispatch and calls (or inlines) their methods directly. Bound functions cost a generic call each,
  // about 100 host instructions per subscriber per call (callgrind, npm run bench:observe).
  private readonly eventSubscribers: OnEvent[] = [];
  /** Subscribers that take alloc, free, split and merge as numbers (onBlock). */
  private readonly blockSubscribers: OnBlock[] = [];
  /** Subscribers that take those four kinds as stamped events (an onEvent and no onBlock). */
  private readonly blockEventSubscribers: OnEvent[] = [];
  /** Some onBlock subscriber wants the backtraces of allocs and frees (EventSubscriber.blockStacks). */
  private blockStacks = false;
  private readonly callEnds = new CallEndSubscribers();
  private readonly requestSubscribers: OnRequest[] = [];
  /**
   * The reused events, one per kind (indexed by eventKindCode), each with its kind set once: storing
   * a string in an object costs V8 a write barrier call (about 28 host instructions) per event.
   */
  private readonly events: AllocatorEvent[] = EVENT_KINDS.map((kind) => blankEvent(kind));
  private readonly stacks: CallStacks;
  private bridgeRef: HypercallBridge | null = null;
  private guestRef: GuestRegisters | null = null;
  /** The guest's call sampler (call-sampler.ts): in WebAssembly when the guest runs in a memory it can read. */
  private sampler: CallSampling | null = null;
  private wasmSampler: CallSampler | null = null;
  /** Writes the page ring's allocs and frees in WebAssembly (writeRingInArena). */
  private ringWriter: ArenaRingWriter | null = null;
  /** The ring writer's request function while it writes onCall's page requests (refreshRequests). */
  private requestWriter: RequestWriter | null = null;
  /** The ring's count (EventRing.total) for onCall's next slot: not its getters, which Chromium left out of line. */
  private ringCounts: Float64Array | null = null;
  private buddy: BuddyAllocator | null = null;
  private fresh = false;

  // The call in progress, sampled at its first event.
  private ctxSeq = -1;
  private ctxCmd = -1;
  private ctxEip = 0;
  /** CR0 at the call (its PG bit decides how the stack is walked). */
  private ctxCr0 = 0;
  private ctxIcount = 0;
  private ctxStack = -1;
  private record = -1;
  /** The last fail() of the request in progress was injected (its ENOMEM changed nothing). */
  private failInjected = false;
  /** The page free in progress was told already, before the first merge or drain it caused. */
  private freeTold = false;
  /** A restored run's counter at its checkpoint (continueIcountFrom), applied at onRestore. */
  private restoredIcount: number | null = null;

  constructor(options: EventHubOptions = {}) {
    this.stacks = new CallStacks(options.stackDepth, options.code ?? null);
    this.depot = this.stacks.depot;
  }

  /**
   * Adds a subscriber; events reach subscribers in the order they were added, except that an alloc,
   * free, split or merge reaches the onBlock subscribers before the onEvent-only ones.
   */
  subscribe(subscriber: EventSubscriber): void {
    if (subscriber.onEvent !== undefined) this.eventSubscribers.push(subscriber as OnEvent);
    if (subscriber.onBlock !== undefined) {
      this.blockSubscribers.push(subscriber as OnBlock);
      if (subscriber.blockStacks === true) this.blockStacks = true;
    } else if (subscriber.onEvent !== undefined) this.blockEventSubscribers.push(subscriber as OnEvent);
    if (subscriber.onCallEnd !== undefined) this.callEnds.add(subscriber as OnCallEnd);
    if (subscriber.onRequest !== undefined) this.requestSubscribers.push(subscriber as OnRequest);
    this.ringWriter?.refresh(this.wasmSampler, this.blockSubscribers, this.blockEventSubscribers);
    this.refreshRequests();
  }

  /** The bridge this hub observes (null before the machine built it). */
  get bridge(): HypercallBridge | null {
    return this.bridgeRef;
  }

  /** The allocator, once MEMMAP built it. */
  get allocator(): BuddyAllocator | null {
    return this.buddy;
  }

  /**
   * True when the hub saw the allocator being built (at MEMMAP), so every block it holds was seen
   * being allocated and a replay from a fresh allocator is exact. False for a run restored from a
   * checkpoint: its allocator already held blocks when the hub first saw it.
   */
  get allocatorFresh(): boolean {
    return this.fresh;
  }

  /** True when a guest CPU was attached (EIPs, icounts and stacks are real). */
  get hasGuest(): boolean {
    return this.guestRef !== null;
  }

  // ---- BridgeObserver ----

  attach(bridge: HypercallBridge): void {
    this.bridgeRef = bridge;
  }

  attachGuest(guest: GuestRegisters): void {
    this.guestRef = guest;
    // For a ring written in the arena, with the guest in a WebAssembly memory, the sampler reads the call
    // there and keeps the memo's recent walks (call-sampler-wasm.ts). Not for JavaScript alone: each read
    // of its globals is a call into the engine (Chromium: about 260 of --owners' 1,022 ns per call).
    const inWasm = this.ringWriter !== null ? guest.stateInWasm : undefined;
    this.wasmSampler = inWasm === undefined ? null : CallSampler.create(inWasm);
    this.sampler = this.wasmSampler ?? new JsCallSampler(guest);
    this.stacks.useSampler(this.wasmSampler);
    this.ringWriter?.refresh(this.wasmSampler, this.blockSubscribers, this.blockEventSubscribers);
    this.refreshRequests();
  }

  /**
   * `ring` (this hub's subscriber) is kept in `arena`: its allocs and frees are written there in
   * WebAssembly while they can be (event-ring.ts, ArenaRingWriter). Before attachGuest.
   */
  writeRingInArena(arena: OwnerArena, ring: EventRing): void {
    if (this.guestRef !== null) throw new Error("invariant: EventHub.writeRingInArena after the guest was attached");
    this.ringWriter = new ArenaRingWriter(arena, ring);
    this.ringCounts = ring.countsView;
  }

  /**
   * A restored checkpoint: its allocator is listened to from the restored run's first call on, and
   * the instruction counter, which v86 restarts, goes on from the checkpoint's (continueIcountFrom).
   */
  onRestore(): void {
    if (this.buddy === null && this.bridgeRef !== null && this.bridgeRef.allocator !== null) this.hookAllocator(false);
    const g = this.guestRef;
    if (this.restoredIcount !== null && g !== null) this.sampler!.continueFrom(g.instructionCount >>> 0, this.restoredIcount);
    this.restoredIcount = null;
  }

  /**
   * The unwrapped instruction counter now, for a checkpoint taken between two calls (the guest
   * paused); 0 without a guest CPU.
   */
  icountNow(): number {
    const g = this.guestRef;
    return g === null ? 0 : this.sampler!.unwrap(g.instructionCount >>> 0);
  }

  /** Before a restored run: its instruction counts continue from `icount`, its checkpoint's icountNow(). */
  continueIcountFrom(icount: number): void {
    this.restoredIcount = icount;
  }

  onCall(seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void {
    // A page request that ended OK, told by the hub (not by the allocator, not a free told before its
    // merges): the ring writer writes its block from the call's numbers, one WebAssembly call, and
    // the rest of the call has nothing to tell (no request subscriber, no mark, no error).
    const request = this.requestWriter;
    let written = 0;
    if (request !== null && status === OK && (cmd === HC_ALLOC_PAGES || (cmd === HC_FREE_PAGES && !this.freeTold)) && !this.buddy!.tellsPageRequests) {
      written = request(this.ringCounts![0]! & (EVENT_RING_SIZE - 1), cmd, arg0, arg1, result, seq);
    }
    // The writer counted its entry; only a pending or due one has more to do (afterWritten).
    if (written !== 0) {
      if (written !== WRITTEN_APPLIED) this.ringWriter!.ring.afterWritten(written);
    } else {
      // Normally the allocator appears at MEMMAP; a run restored from a checkpoint has one already.
      if (this.buddy === null && this.bridgeRef !== null && this.bridgeRef.allocator !== null) this.hookAllocator(cmd === HC_MEMMAP);
      // No sampling here: events and queries sample the call when they need it (sync), and most calls
      // of a busy guest are page requests whose allocator events already did.
      if (status === OK && (cmd === HC_ALLOC_PAGES || cmd === HC_FREE_PAGES)) this.pageRequest(cmd, arg0, arg1, result);
      this.freeTold = false;
      if (status === OK || status === ENOMEM) {
        if (this.requestSubscribers.length > 0 && cmd >= HC_ALLOC_PAGES && cmd <= HC_FREE_CONTIG) this.request(seq, cmd, arg0, arg1, arg2, result, status);
        if (cmd === HC_MARK && status === OK) this.mark();
      } else this.protocolError(cmd, arg0, arg1, arg2, status);
    }
    this.failInjected = false;
    this.record = -1;
    if (seq >= this.callEnds.from) this.callEnds.tell(seq, cmd, status);
  }

  onRecord(seq: number, index: number, cmd: number, arg0: number, arg1: number, result: number, status: number): void {
    this.sync();
    this.record = index;
    if (status === OK && (cmd === HC_ALLOC_PAGES || cmd === HC_FREE_PAGES)) this.pageRequest(cmd, arg0, arg1, result);
    this.freeTold = false;
    if (this.requestSubscribers.length > 0 && (cmd === HC_ALLOC_PAGES || cmd === HC_FREE_PAGES)) this.request(seq, cmd, arg0, arg1, 0, result, status);
    if (status !== OK && status !== ENOMEM) this.protocolError(cmd, arg0, arg1, 0, status);
    this.failInjected = false;
    this.record = index + 1;
  }

  onPortMisuse(seq: number, width: number, write: boolean): void {
    // Not a call: it gets the number of the next call, and the EIP, instruction count, CR0 and
    // backtrace of the misusing instruction itself, sampled afresh whether or not the last call was
    // (with a trace recorder every call is, and the misuse took the last call's EIP). The last call
    // has ended, so nothing else reads the context it had.
    this.ctxSeq = -1;
    this.sampler?.forgetCall();
    const e = this.begin(KIND_PROTOCOL_ERROR);
    e.seq = seq;
    e.record = -1;
    e.cmd = -1;
    e.npages = width;
    e.status = -1; // not a request: no ABI status applies
    e.label = write ? "port write" : `${8 * width}-bit port read`;
    this.emit(e);
  }

  // ---- BuddyListener ----

  alloc(pfn: number, order: number, zone: number, gfp: number): void {
    this.block(KIND_ALLOC, pfn, order, 1 << order, zone, gfp);
  }

  free(pfn: number, order: number, zone: number): void {
    this.block(KIND_FREE, pfn, order, 1 << order, zone, -1);
  }

  split(pfn: number, order: number, zone: number): void {
    this.block(KIND_SPLIT, pfn, order, 1 << order, zone, -1);
  }

  merge(pfn: number, order: number, zone: number): void {
    this.freeFirst();
    this.block(KIND_MERGE, pfn, order, 1 << order, zone, -1);
  }

  allocContig(pfn: number, npages: number, zone: number, gfp: number): void {
    this.block(KIND_ALLOC, pfn, -1, npages, zone, gfp);
  }

  freeContig(pfn: number, npages: number, zone: number): void {
    this.block(KIND_FREE, pfn, -1, npages, zone, -1);
  }

  fail(order: number, gfp: number, injected: boolean): void {
    const e = this.begin(KIND_FAIL);
    e.order = order >= 0 ? order : -1;
    e.npages = order >= 0 ? 1 << order : -order;
    e.gfp = gfp;
    e.status = ENOMEM;
    e.injected = injected;
    this.failInjected = injected;
    this.emit(e);
  }

  pcpDrain(zone: number, frames: number): void {
    this.freeFirst();
    const e = this.begin(KIND_PCP_DRAIN);
    e.zone = zone;
    e.npages = frames;
    this.emit(e);
  }

  // ---- for subscribers ----

  /**
   * The depot handle of the guest's backtrace at the call in progress (EIP first), walked once per
   * call. Without a guest CPU: the handle of a one-frame stack at address 0. Like seq and icount,
   * only inside the hub's callbacks (a subscriber's hook while a call is served): the first query of
   * a call samples the guest's registers, which are valid only inside a port handler
   * (bridge-types.ts GuestRegisters).
   */
  currentStack(): number {
    this.sync();
    return this.callStack();
  }

  /** currentStack() of a call already sampled (sync()). */
  private callStack(): number {
    if (this.ctxStack >= 0) return this.ctxStack;
    const g = this.guestRef;
    this.ctxStack = g === null ? this.stacks.none() : this.stacks.of(g, this.bridgeRef!.guestRam, this.ctxEip, this.ctxCr0);
    return this.ctxStack;
  }

  /** The hypercall sequence number of the call in progress; only inside the hub's callbacks (see currentStack). */
  get seq(): number {
    this.sync();
    return this.ctxSeq;
  }

  /** The unwrapped instruction counter sampled at the call in progress; only inside the hub's callbacks. */
  get icount(): number {
    this.sync();
    return this.ctxIcount;
  }

  /** Inside onBlock (the hub sampled the call): the call's EIP (its `in`), 0 without a guest CPU. */
  get callEip(): number {
    return this.ctxEip;
  }

  /** Inside onBlock: the call's unwrapped instruction counter. */
  get callIcount(): number {
    return this.ctxIcount;
  }

  // ---- internals ----

  private hookAllocator(fresh: boolean): void {
    const buddy = this.bridgeRef!.allocator!;
    this.buddy = buddy;
    this.fresh = fresh;
    const previous = buddy.listener;
    buddy.listener = previous === null ? this : fanOutListener(previous, this);
    this.refreshRequests();
  }

  /** Whether onCall has the ring writer write page requests: with no request subscriber to tell first. */
  private refreshRequests(): void {
    const writer = this.ringWriter;
    const buddy = this.buddy;
    this.requestWriter = writer !== null && buddy !== null && this.requestSubscribers.length === 0 ? writer.forRequests(buddy) : null;
  }

  /**
   * Samples the guest at the first event (or query) of each call. For most events the test is all
   * that runs, small enough for V8 to carry into every caller; the sampling is kept out of line.
   */
  private sync(): void {
    const bridge = this.bridgeRef;
    const seq = bridge === null ? 0 : bridge.seq - 1;
    if (seq !== this.ctxSeq) this.sampleCall(seq);
  }

  /** Samples call `seq`: its command, EIP, CR0 and instruction counter. */
  private sampleCall(seq: number): void {
    this.ctxSeq = seq;
    this.ctxStack = -1;
    const g = this.guestRef;
    if (g === null) {
      this.ctxCmd = -1;
      this.ctxEip = 0;
      this.ctxCr0 = 0;
      this.ctxIcount = 0;
    } else {
      const sampler = this.sampler!;
      sampler.sample(seq);
      this.ctxCmd = sampler.cmd;
      this.ctxEip = sampler.eip;
      this.ctxCr0 = sampler.cr0;
      this.ctxIcount = sampler.icount;
    }
    this.record = this.ctxCmd === HC_BATCH ? 0 : -1;
  }

  /** The reused event of a kind (its code, layout.ts KIND_*), reset, stamped with the call in progress. */
  private begin(code: number): AllocatorEvent {
    this.sync();
    const e = this.events[code]!;
    e.seq = this.ctxSeq;
    e.record = this.record;
    e.cmd = this.ctxCmd;
    e.pfn = -1;
    e.order = -1;
    e.npages = 0;
    e.zone = -1;
    e.gfp = -1;
    e.status = OK;
    e.eip = this.ctxEip;
    e.icount = this.ctxIcount;
    e.injected = false;
    // Only marks and protocol errors carry a label; not storing "" again spares the barrier.
    if (e.label !== "") e.label = "";
    return e;
  }

  /**
   * A page request that ended OK, told here when the allocator does not tell it (reportsPageRequests):
   * an alloc after the splits it caused, a free unless freeFirst told it before its merges or drain.
   * The same numbers as the allocator's listener would have had.
   */
  private pageRequest(cmd: number, arg0: number, arg1: number, result: number): void {
    const buddy = this.buddy;
    if (buddy === null || buddy.tellsPageRequests) return;
    if (cmd === HC_ALLOC_PAGES) {
      const pfn = result >>> PAGE_SHIFT;
      this.block(KIND_ALLOC, pfn, arg0, 1 << arg0, buddy.zoneOf(pfn - buddy.basePfn), arg1);
    } else if (!this.freeTold) this.tellFree(buddy, arg0, arg1);
  }

  /** Before a merge or drain: the page free that causes it, when the hub tells the page requests. */
  private freeFirst(): void {
    const bridge = this.bridgeRef;
    const buddy = this.buddy;
    if (this.freeTold || bridge === null || buddy === null || buddy.tellsPageRequests) return;
    const addr = bridge.freeInProgress;
    if (addr < 0) return;
    this.freeTold = true;
    this.tellFree(buddy, addr, bridge.freeOrderInProgress);
  }

  /**
   * (Not one helper with the alloc's line in pageRequest: V8 then kept the helper out of onCall, 229.8
   * host instructions per call against 186.8, callgrind on bench:live's page.)
   */
  private tellFree(buddy: BuddyAllocator, addr: number, order: number): void {
    const pfn = addr >>> PAGE_SHIFT;
    this.block(KIND_FREE, pfn, order, 1 << order, buddy.zoneOf(pfn - buddy.basePfn), -1);
  }

  /** An alloc, free, split or merge: as numbers to onBlock subscribers, as an event to the others. */
  private block(code: number, pfn: number, order: number, npages: number, zone: number, gfp: number): void {
    const writer = this.ringWriter;
    const bridge = this.bridgeRef;
    if (writer !== null && code <= KIND_FREE && bridge !== null) {
      const seq = bridge.seq - 1;
      // The record is known once the hub sampled this call; else the writer takes it from the command.
      if (writer.write(code, seq, seq === this.ctxSeq ? this.record : RECORD_FROM_COMMAND, pfn, order, npages, zone, gfp)) return;
    }
    const fast = this.blockSubscribers;
    if (fast.length > 0) {
      this.sync();
      const stack = code <= KIND_FREE && this.blockStacks ? this.callStack() : -1;
      const seq = this.ctxSeq;
      const record = this.record;
      for (let i = 0; i < fast.length; i++) fast[i]!.onBlock(code, seq, record, pfn, order, npages, zone, gfp, stack);
    }
    const subs = this.blockEventSubscribers;
    if (subs.length === 0) return;
    const e = this.begin(code);
    e.pfn = pfn;
    e.order = order;
    e.npages = npages;
    e.zone = zone;
    e.gfp = gfp;
    for (let i = 0; i < subs.length; i++) subs[i]!.onEvent(e);
  }

  /** Forwards a page request that changed the allocator (see EventSubscriber.onRequest). */
  private request(seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void {
    if (status !== OK && (status !== ENOMEM || this.failInjected)) return;
    const subs = this.requestSubscribers;
    for (let i = 0; i < subs.length; i++) subs[i]!.onRequest(seq, cmd, arg0, arg1, arg2, result, status);
  }

  private mark(): void {
    const marks = this.bridgeRef!.marks;
    const e = this.begin(KIND_MARK);
    e.label = marks.length > 0 ? marks[marks.length - 1]!.label : "";
    this.emit(e);
  }

  private protocolError(cmd: number, arg0: number, arg1: number, arg2: number, status: number): void {
    const e = this.begin(KIND_PROTOCOL_ERROR);
    e.cmd = cmd;
    if (cmd === HC_FREE_PAGES || cmd === HC_FREE_CONTIG) {
      e.pfn = Math.floor(arg0 / 2 ** PAGE_SHIFT);
      if (cmd === HC_FREE_PAGES) e.order = arg1;
      else e.npages = arg1;
    } else if (cmd === HC_ALLOC_PAGES) {
      e.order = arg0;
      e.gfp = arg1;
    } else if (cmd === HC_ALLOC_CONTIG) {
      e.npages = arg0;
      e.gfp = arg2;
    }
    e.status = status;
    this.emit(e);
  }

  private emit(e: AllocatorEvent): void {
    const subs = this.eventSubscribers;
    for (let i = 0; i < subs.length; i++) subs[i]!.onEvent(e);
  }
}

