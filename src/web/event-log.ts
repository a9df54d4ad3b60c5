// The page's event log: every event of the run's EventHub (src/observe) kept in a ring (the newest
// EVENT_RING_SIZE, interleaved in one Int32Array), drawn as a scrolling list with the owner of each
// allocation and free, and searched backwards for a frame's history. Storing an event is eight int
// writes to one cache line: it runs inside the port handler. A replayed trace fills the same ring.

import { ZONE_NAMES, gfpToString } from "../mem/index.js";
import { STATUSES } from "../protocol/abi.js";
import { EVENT_KINDS, eventKindCode, type AllocatorEvent, type EventKind, type EventSubscriber } from "../observe/events.js";
import { EVENT_RING_SIZE, E_EIP, E_GFP, E_KIND, E_NPAGES, E_PFN, E_RECORD, E_SEQ, E_STACK, E_STRIDE, KIND_MARK, KIND_MERGE, KIND_SPLIT } from "../observe/layout.js";
import type { LiveLogCanvas } from "./live-log.js";
import type { EventLine } from "./worker-protocol.js";
import { hexAddr } from "./model.js";

export { EVENT_RING_SIZE };
/** Most lines the log panel shows (a paused run's; a running one's worker sends fewer: worker.ts). */
const SHOWN_LINES = 80;

/** Kinds at or above this code may carry a label (mark, protocol-error); the others never do. */
const FIRST_LABELLED_KIND = KIND_MARK;

/** One event read back from the ring (allocates: for display only). */
export interface LoggedEvent extends Pick<AllocatorEvent, "kind" | "seq" | "record" | "pfn" | "order" | "npages" | "zone" | "gfp" | "status" | "label"> {
  /** The owner ("random_run") or EIP symbol of the call, "" when unknown. */
  where: string;
}

/** The call in progress (the EventHub): its stack handle (-1 is logged without a guest CPU) and EIP. */
export interface StackSource {
  readonly hasGuest: boolean;
  /** The EIP of the call in progress, read inside onBlock. */
  readonly callEip: number;
  currentStack(): number;
}

/** Names where an event came from: owner of an allocation or free, else the call's EIP (or ""). */
export type WhereOf = (kind: EventKind, stack: number, eip: number) => string;

export class EventLog implements EventSubscriber {
  /** Events ever logged (the ring holds the last EVENT_RING_SIZE). */
  total = 0;
  private readonly ring = new Int32Array(EVENT_RING_SIZE * E_STRIDE);
  /** Labels (MARKs, port misuse) by ring slot (rare, so a map). */
  private readonly labels = new Map<number, string>();
  /** The event numbers (`total` at their push) of the labelled events still in the ring, oldest first. */
  private labelled: number[] = [];

  /**
   * `stacks` gives the stack handle of the call in progress for allocations and frees (the hub's
   * currentStack, walked once per call and shared with the page owner), or null to keep none. The
   * hub itself rather than a closure over it: a method call on one class is a direct call for V8.
   */
  constructor(
    private readonly stacks: StackSource | null,
    private readonly whereOf: WhereOf,
  ) {}

  onEvent(e: Readonly<AllocatorEvent>): void {
    const stacks = this.stacks;
    this.push(e, (e.kind === "alloc" || e.kind === "free") && stacks !== null && stacks.hasGuest ? stacks.currentStack() : -1);
  }

  /**
   * An alloc, free, split or merge from the hub, as numbers: the same ring entry as push() of its
   * event, without the event (EventSubscriber.onBlock). A log made without a stack source (a
   * replay's) logs no stack and no EIP for them.
   */
  onBlock(code: number, seq: number, record: number, pfn: number, order: number, npages: number, zone: number, gfp: number, stack: number): void {
    const stacks = this.stacks;
    const known = stacks !== null && stacks.hasGuest;
    this.store(code | ((order + 1) << 8) | ((zone + 1) << 16), seq, record, pfn, npages, gfp, known ? stack : -1, stacks !== null ? stacks.callEip : 0);
  }

  /** With a hub to ask, the log names the owner of each alloc and free from its backtrace. */
  get blockStacks(): boolean {
    return this.stacks !== null;
  }

  /** Stores one event; `stack` is its stack handle or -1. Seq numbers must fit in 31 bits. */
  push(e: Readonly<AllocatorEvent>, stack: number): void {
    const code = eventKindCode(e.kind);
    const n = this.store(code | ((e.order + 1) << 8) | ((e.zone + 1) << 16) | (e.status << 24), e.seq, e.record, e.pfn, e.npages, e.gfp, stack, e.eip);
    if (code >= FIRST_LABELLED_KIND && e.label !== "") {
      this.labels.set(n & (EVENT_RING_SIZE - 1), e.label);
      this.labelled.push(n);
    }
  }

  /** Writes the next ring entry (`packed`: E_KIND's kind, order, zone and status); returns its number. */
  private store(packed: number, seq: number, record: number, pfn: number, npages: number, gfp: number, stack: number, eip: number): number {
    const n = this.total++;
    // The entry this one overwrites may have had a label: forget it (a compare per store, no lookup).
    if (this.labelled.length > 0 && this.labelled[0]! <= n - EVENT_RING_SIZE) this.labels.delete(this.labelled.shift()! & (EVENT_RING_SIZE - 1));
    const r = this.ring;
    const p = (n & (EVENT_RING_SIZE - 1)) * E_STRIDE;
    // `| 0` is what the store does anyway (ToInt32), written out: V8 then truncates a small integer
    // directly, where a store of a value it knows only as a number went through a double.
    r[p + E_KIND] = packed | 0;
    r[p + E_SEQ] = seq | 0;
    r[p + E_RECORD] = record | 0;
    r[p + E_PFN] = pfn | 0;
    r[p + E_NPAGES] = npages | 0;
    r[p + E_GFP] = gfp | 0;
    r[p + E_STACK] = stack | 0;
    r[p + E_EIP] = eip | 0;
    return n;
  }

  /** Forgets everything (a new run or a new replay position). */
  clear(): void {
    this.total = 0;
    this.labels.clear();
    this.labelled = [];
  }

  /** Events still in the ring. */
  get size(): number {
    return Math.min(this.total, EVENT_RING_SIZE);
  }

  /** The n-th newest event (0 = newest). */
  get(back: number): LoggedEvent {
    const slot = (this.total - 1 - back) & (EVENT_RING_SIZE - 1);
    const r = this.ring;
    const p = slot * E_STRIDE;
    const packed = r[p + E_KIND]!;
    const kind = EVENT_KINDS[packed & 0xff]!;
    return {
      kind,
      seq: r[p + E_SEQ]!,
      record: r[p + E_RECORD]!,
      pfn: r[p + E_PFN]!,
      order: ((packed >> 8) & 0xff) - 1,
      // A u32: an ALLOC_CONTIG that failed may have asked for up to 2^32 - 1 pages (stored as int32 bits).
      npages: r[p + E_NPAGES]! >>> 0,
      zone: ((packed >> 16) & 0xff) - 1,
      gfp: r[p + E_GFP]!,
      status: (packed >>> 24) & 0xff,
      where: this.whereOf(kind, r[p + E_STACK]!, r[p + E_EIP]! >>> 0),
      label: this.labels.get(slot) ?? "",
    };
  }

  /**
   * The newest events (at most `limit`) that touched frame pfn: allocations, frees, splits and
   * merges of a block containing it. Newest first. Scans the ring backwards.
   */
  historyOf(pfn: number, limit = 12): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    const n = this.size;
    const r = this.ring;
    for (let back = 0; back < n && out.length < limit; back++) {
      const p = ((this.total - 1 - back) & (EVENT_RING_SIZE - 1)) * E_STRIDE;
      const k = r[p + E_KIND]! & 0xff;
      if (k > KIND_MERGE) continue; // alloc, free, split, merge are codes 0..3
      const start = r[p + E_PFN]!;
      // A split event names the block split (order + 1 at pfn); the others their own block.
      const span = k === KIND_SPLIT ? 2 * r[p + E_NPAGES]! : r[p + E_NPAGES]!;
      if (pfn >= start && pfn < start + span) out.push(this.get(back));
    }
    return out;
  }
}

/** One line of the log: "#1234.5 alloc  o3  0x01a2b000 Normal GFP_KERNEL  random_run". */
export function formatEvent(e: LoggedEvent): string {
  const at = `#${e.seq}${e.record >= 0 ? `.${e.record}` : ""}`.padEnd(10);
  const parts = [at, e.kind.padEnd(9)];
  if (e.kind === "mark") parts.push(JSON.stringify(e.label));
  else {
    if (e.order >= 0) parts.push(`o${e.order}`.padEnd(4));
    else if (e.npages > 0) parts.push(`${e.npages}p`.padEnd(4));
    if (e.pfn >= 0) parts.push(hexAddr(e.pfn));
    if (e.zone >= 0) parts.push((ZONE_NAMES[e.zone] ?? "?").padEnd(7));
    if (e.gfp >= 0 && e.kind === "alloc") parts.push(gfpToString(e.gfp));
    if (e.kind === "fail" || e.kind === "protocol-error") parts.push(STATUSES.find((st) => st.code === e.status)?.name ?? `status ${e.status}`);
    if (e.label !== "") parts.push(e.label);
  }
  if (e.where !== "") parts.push(` ${e.where}`);
  return parts.join(" ");
}

/** The newest `limit` events of a log as display lines, oldest first. */
export function recentLines(log: EventLog, limit = SHOWN_LINES): EventLine[] {
  const out: EventLine[] = [];
  for (let back = Math.min(log.size, limit) - 1; back >= 0; back--) {
    const e = log.get(back);
    out.push({ kind: e.kind, text: formatEvent(e), pfn: e.pfn, where: e.where });
  }
  return out;
}

export class EventLogView {
  private shownTotal = -1;
  private shownLines = -1;
  /** The line elements, newest first, with what each shows. */
  private readonly rows: { line: HTMLElement; kind: string; text: string; pfn: number }[] = [];
  /** Whether the live canvas stands in for the list (a moving run). */
  private live = false;

  /**
   * `element` lays its children out with flex-direction: column-reverse (style.css), newest first in
   * the DOM: it stays scrolled to the newest line by itself, with no scroll position to read or set
   * (either would force a layout at every redraw). While a run moves, `canvas` takes its place
   * (live-log.ts): its lines change every frame, and on a canvas that costs no layout.
   */
  constructor(
    private readonly element: HTMLElement,
    private readonly canvas: LiveLogCanvas,
  ) {}

  /**
   * Redraws if the log changed since the last call: `lines` are the newest events, oldest first.
   * `moving` (the guest runs) draws them on the canvas; otherwise the list shows them, its line
   * elements kept and rewritten in place.
   */
  render(total: number, lines: readonly EventLine[], moving: boolean): void {
    if (moving !== this.live) {
      this.live = moving;
      this.element.hidden = moving;
      this.canvas.show(moving);
      // The list shows what it last drew, perhaps another run's: it is written afresh when it returns.
      this.shownTotal = -1;
    }
    if (moving) {
      this.canvas.render(total, lines);
      return;
    }
    // The same events may come back as more lines (a run that paused: see worker.ts).
    if (total === this.shownTotal && lines.length === this.shownLines) return;
    this.shownTotal = total;
    this.shownLines = lines.length;
    const el = this.element;
    const count = Math.min(lines.length, SHOWN_LINES);
    const rows = this.rows;
    while (rows.length < count) {
      const line = document.createElement("div");
      el.appendChild(line);
      rows.push({ line, kind: "", text: "", pfn: -2 });
    }
    while (rows.length > count) rows.pop()!.line.remove();
    // Newest first in the DOM; what each line shows is kept here, so an unchanged line costs a compare
    // and no DOM read.
    for (let i = 0; i < count; i++) {
      const e = lines[lines.length - 1 - i]!;
      const row = rows[i]!;
      if (row.kind !== e.kind) row.line.className = `ev ev-${(row.kind = e.kind)}`;
      if (row.text !== e.text) row.line.textContent = row.text = e.text;
      if (row.pfn !== e.pfn) {
        if (e.pfn >= 0) row.line.dataset.pfn = String(e.pfn);
        else delete row.line.dataset.pfn;
        row.pfn = e.pfn;
      }
    }
    el.dataset.total = String(total);
  }
}
