// The typed event stream of a run: everything the allocator does, as seen from outside the guest.
// One event type for all kinds (alloc, free, split, merge, fail, pcp-drain, mark, protocol-error), each
// stamped with the hypercall's sequence number (the deterministic clock), the guest EIP of its `in`
// and the guest instruction counter (approximate). The producer (EventHub) reuses one event object
// per kind: a subscriber that keeps an event must copy it (copyEvent). No Node API here: the web page
// reuses it.

import { KIND_ALLOC, KIND_FAIL, KIND_FREE, KIND_MARK, KIND_MERGE, KIND_PCP_DRAIN, KIND_PROTOCOL_ERROR, KIND_SPLIT } from "./layout.js";

/** Every event kind, in a fixed order (their index is their numeric code in compact logs). */
export const EVENT_KINDS = ["alloc", "free", "split", "merge", "fail", "pcp-drain", "mark", "protocol-error"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** A kind's index in EVENT_KINDS, its layout.ts KIND_* code (a switch: compares of interned strings). */
export function eventKindCode(kind: EventKind): number {
  switch (kind) {
    case "alloc":
      return KIND_ALLOC;
    case "free":
      return KIND_FREE;
    case "split":
      return KIND_SPLIT;
    case "merge":
      return KIND_MERGE;
    case "fail":
      return KIND_FAIL;
    case "pcp-drain":
      return KIND_PCP_DRAIN;
    case "mark":
      return KIND_MARK;
    case "protocol-error":
      return KIND_PROTOCOL_ERROR;
  }
}

/**
 * One thing the allocator did or refused. Fields that do not apply are -1 (numbers) or "" (label).
 *  - alloc / free: a block of npages frames at pfn (order -1 for an ALLOC_CONTIG/FREE_CONTIG range).
 *  - split: a free block of order+1 at pfn was split; its upper half (pfn + 2^order) went to the list.
 *  - merge: two buddies merged into the free block of `order` at pfn.
 *  - fail: an allocation of `order` (or npages for contig, order -1) ended in ENOMEM; `injected` when
 *    a fault-injection predicate made it fail.
 *  - pcp-drain: npages frames went from zone's per-CPU lists back to its buddy lists.
 *  - mark: the guest's MARK with its label.
 *  - protocol-error: a request refused with a status other than OK and ENOMEM (pfn/order/npages
 *    describe what it named when it is a free), or an 8/16-bit read or a write of the port (cmd -1).
 */
export interface AllocatorEvent {
  kind: EventKind;
  /** Sequence number of the hypercall (port call) it happened in. */
  seq: number;
  /** Index of the BATCH record being run, -1 outside a BATCH. */
  record: number;
  /**
   * The command of the port call (EAX); for a protocol-error, the refused request's own command (a
   * BATCH record's command inside a BATCH); -1 for a port misuse or without a guest CPU.
   */
  cmd: number;
  pfn: number;
  order: number;
  npages: number;
  zone: number;
  gfp: number;
  /**
   * ABI status of the request: OK for alloc/free/split/merge/pcp-drain/mark, ENOMEM for fail, the
   * refusal for a protocol-error; -1 for a port misuse (no request).
   */
  status: number;
  /** Linear address of the guest's `in` instruction (0 when no guest CPU is attached). */
  eip: number;
  /** Guest instructions retired, unwrapped past 2^32 (approximate; 0 without a guest CPU). */
  icount: number;
  injected: boolean;
  label: string;
}

/**
 * A fresh event of a kind (default alloc) with every other field at its "does not apply" value. One
 * object literal for all of them: V8 then gives every event the same shape, whose number fields hold
 * doubles in place (an event copied by spread stored each large instruction count as a new heap
 * number, a garbage object per call).
 */
export function blankEvent(kind: EventKind = "alloc"): AllocatorEvent {
  return {
    kind,
    seq: -1,
    record: -1,
    cmd: -1,
    pfn: -1,
    order: -1,
    npages: 0,
    zone: -1,
    gfp: -1,
    status: 0,
    eip: 0,
    icount: 0,
    injected: false,
    label: "",
  };
}

/** A copy a subscriber may keep (the hub reuses the one it passes). */
export function copyEvent(e: Readonly<AllocatorEvent>): AllocatorEvent {
  return { ...e };
}

/** What the hub tells its subscribers. Every method is optional; all run inside the port handler. */
export interface EventSubscriber {
  /** Each event as it happens. `e` is reused after the call returns: copy what you keep. */
  onEvent?(e: Readonly<AllocatorEvent>): void;
  /**
   * The allocator's alloc, free, split and merge as numbers (`code` a layout.ts KIND_*; order -1 and
   * npages for an ALLOC_CONTIG/FREE_CONTIG range; gfp -1 but for an alloc), with the backtrace of an
   * alloc or free (a depot handle, as currentStack() gives it, when some subscriber sets blockStacks;
   * else -1). A subscriber with this hook gets those four kinds here instead of in onEvent, and every
   * other kind in onEvent: the hub then stamps no event object for them. The hub's callEip and
   * callIcount are the call's here. onEvent must still take the four kinds alike: others feed events
   * directly (tests, replay).
   */
  onBlock?(code: number, seq: number, record: number, pfn: number, order: number, npages: number, zone: number, gfp: number, stack: number): void;
  /**
   * True when onBlock needs the backtraces of allocs and frees. The hub walks the guest's stack for
   * them only when some onBlock subscriber says so; the others get -1.
   */
  readonly blockStacks?: boolean;

  /** After every port call is answered (seq, command, status): the moment between two calls. */
  onCallEnd?(seq: number, cmd: number, status: number): void;
  /**
   * With onCallEnd: the first call whose end it needs, read again after each onCallEnd it gets; the
   * hub skips it for calls before (a timeline that samples every Nth call). Absent: every call.
   */
  readonly nextCallEnd?: number;
  /**
   * Each page request (ALLOC_PAGES, FREE_PAGES, ALLOC_CONTIG, FREE_CONTIG, as a call or a BATCH record)
   * that changed the allocator: status OK, or ENOMEM not injected by a fault predicate (a real ENOMEM
   * may have drained the per-CPU lists). Replaying them in order on a fresh allocator rebuilds its state.
   */
  onRequest?(seq: number, cmd: number, arg0: number, arg1: number, arg2: number, result: number, status: number): void;
}

/** "alloc order 3 pfn 0x1234 zone Normal ..." for logs and test failure messages. */
export function describeEvent(e: Readonly<AllocatorEvent>): string {
  const parts = [`#${e.seq}${e.record >= 0 ? `.${e.record}` : ""}`, e.kind];
  if (e.pfn >= 0) parts.push(`pfn 0x${e.pfn.toString(16)}`);
  if (e.order >= 0) parts.push(`order ${e.order}`);
  if (e.npages > 0) parts.push(`npages ${e.npages}`);
  if (e.zone >= 0) parts.push(`zone ${e.zone}`);
  if (e.gfp >= 0) parts.push(`gfp 0x${e.gfp.toString(16)}`);
  if (e.kind === "fail" || e.kind === "protocol-error") parts.push(`status ${e.status}`);
  if (e.injected) parts.push("injected");
  if (e.label !== "") parts.push(JSON.stringify(e.label));
  parts.push(`eip 0x${e.eip.toString(16)}`);
  return parts.join(" ");
}

/** Subscribers that have a given hook (the hub keeps one list per hook). */
export type OnEvent = Required<Pick<EventSubscriber, "onEvent">>;
export type OnBlock = Required<Pick<EventSubscriber, "onBlock">>;
export type OnCallEnd = Required<Pick<EventSubscriber, "onCallEnd">> & Pick<EventSubscriber, "nextCallEnd">;
export type OnRequest = Required<Pick<EventSubscriber, "onRequest">>;

export interface EventHubOptions {
  /** Deepest backtrace kept (1..64), default 16. */
  stackDepth?: number;
  /** Executable ranges of the kernel (stack-walk.ts codeRanges); null accepts any return address. */
  code?: Uint32Array | null;
}

/**
 * The hub's onCallEnd subscribers, told from the first call one of them needs on (nextCallEnd): the
 * page's only one, its timeline, wants every few hundredth call, and a call into it per call cost
 * the page's guest about 8 ns of its 300 in Chromium (npm run profile:web).
 */
export class CallEndSubscribers {
  private readonly subs: OnCallEnd[] = [];
  /** The first call whose end some subscriber needs. */
  from = Number.MAX_SAFE_INTEGER;

  add(sub: OnCallEnd): void {
    this.subs.push(sub);
    this.from = 0;
  }

  /** Tells every subscriber of the end of call `seq`, then finds the next call one of them needs. */
  tell(seq: number, cmd: number, status: number): void {
    const subs = this.subs;
    let next = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      sub.onCallEnd(seq, cmd, status);
      next = Math.min(next, sub.nextCallEnd ?? seq + 1);
    }
    this.from = next;
  }
}
