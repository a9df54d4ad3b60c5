// The page's event log: the run's event ring (src/observe/event-ring.ts), drawn as a scrolling list
// with the owner of each allocation and free, and searched backwards for a frame's history. The ring
// is filled inside the port handler; everything here reads it, at display time. A replayed trace
// fills a ring of its own (EventLog.forReplay).

import { ZONE_NAMES, gfpToString } from "../mem/index.js";
import { STATUSES } from "../protocol/abi.js";
import { EVENT_KINDS, type AllocatorEvent, type EventKind } from "../observe/events.js";
import { EVENT_RING_SIZE, EventRing, kindOf, orderOf, statusOf, zoneOf } from "../observe/event-ring.js";
import { EF_SEQ, EF_STRIDE, E_EIP, E_GFP, E_KIND, E_NPAGES, E_PFN, E_RECORD, E_STACK, E_STRIDE, KIND_MERGE, KIND_SPLIT } from "../observe/layout.js";
import type { LiveLogCanvas } from "./live-log.js";
import type { EventLine } from "./worker-protocol.js";
import { hexAddr } from "./model.js";

export { EVENT_RING_SIZE };
/** Most lines the log panel shows (a paused run's; a running one's worker sends fewer: worker.ts). */
const SHOWN_LINES = 80;

/** One event read back from the ring (allocates: for display only). */
export interface LoggedEvent extends Pick<AllocatorEvent, "kind" | "seq" | "record" | "pfn" | "order" | "npages" | "zone" | "gfp" | "status" | "label"> {
  /** The owner ("random_run") or EIP symbol of the call, "" when unknown. */
  where: string;
}

/**
 * Names where an event came from: the owner of its backtrace (allocations, frees and protocol errors
 * carry one when the run has a guest CPU), else the call's EIP, or "".
 */
export type WhereOf = (kind: EventKind, stack: number, eip: number) => string;

export class EventLog {
  constructor(
    readonly ring: EventRing,
    private readonly whereOf: WhereOf,
  ) {}

  /** A log of its own ring, filled by push() (a replay: no hub, no backtraces). */
  static forReplay(whereOf: WhereOf): EventLog {
    return new EventLog(new EventRing(null), whereOf);
  }

  /** Events ever logged (the ring holds the last EVENT_RING_SIZE). */
  get total(): number {
    return this.ring.total;
  }

  /** Events still in the ring. */
  get size(): number {
    return this.ring.size;
  }

  /** Stores one event; `stack` is its stack handle or -1. */
  push(e: Readonly<AllocatorEvent>, stack: number): void {
    this.ring.push(e, stack);
  }

  /** Forgets everything (a replay's new position). */
  clear(): void {
    this.ring.clear();
  }

  /** The n-th newest event (0 = newest). */
  get(back: number): LoggedEvent {
    const ring = this.ring;
    const slot = ring.slotOf(ring.total - 1 - back);
    const r = ring.ints;
    const p = slot * E_STRIDE;
    const packed = r[p + E_KIND]!;
    const kind = EVENT_KINDS[kindOf(packed)]!;
    return {
      kind,
      seq: ring.floats[slot * EF_STRIDE + EF_SEQ]!,
      record: r[p + E_RECORD]!,
      pfn: r[p + E_PFN]!,
      order: orderOf(packed),
      // A u32: an ALLOC_CONTIG that failed may have asked for up to 2^32 - 1 pages (stored as int32 bits).
      npages: r[p + E_NPAGES]! >>> 0,
      zone: zoneOf(packed),
      gfp: r[p + E_GFP]!,
      status: statusOf(packed),
      where: this.whereOf(kind, r[p + E_STACK]!, r[p + E_EIP]! >>> 0),
      label: ring.labelAt(slot),
    };
  }

  /**
   * The newest events (at most `limit`) that touched frame pfn: allocations, frees, splits and
   * merges of a block containing it. Newest first. Scans the ring backwards.
   */
  historyOf(pfn: number, limit = 12): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    const ring = this.ring;
    const n = ring.size;
    const r = ring.ints;
    for (let back = 0; back < n && out.length < limit; back++) {
      const p = ring.slotOf(ring.total - 1 - back) * E_STRIDE;
      const k = kindOf(r[p + E_KIND]!);
      if (k > KIND_MERGE) continue; // alloc, free, split, merge are codes 0..3
      const start = r[p + E_PFN]!;
      // A split event names the block split (order + 1 at pfn); the others their own block.
      const span = k === KIND_SPLIT ? 2 * r[p + E_NPAGES]! : r[p + E_NPAGES]!;
      if (pfn >= start && pfn < start + span) out.push(this.get(back));
    }
    return out;
  }
}

/** Width of the log's GFP column: GFP_HIGHMEM, the widest plain mask (combined ones push the owner on). */
const GFP_COLUMN = 11;

/** One line of the log: "#1234.5 alloc  o3  0x01a2b000 Normal GFP_KERNEL  random_run"; `alignOwners` pads the GFP column (see below). */
export function formatEvent(e: LoggedEvent, alignOwners = true): string {
  const at = `#${e.seq}${e.record >= 0 ? `.${e.record}` : ""}`.padEnd(10);
  const parts = [at, e.kind.padEnd(9)];
  if (e.kind === "mark") parts.push(JSON.stringify(e.label));
  else {
    if (e.order >= 0) parts.push(`o${e.order}`.padEnd(4));
    else if (e.npages > 0) parts.push(`${e.npages}p`.padEnd(4));
    if (e.pfn >= 0) parts.push(hexAddr(e.pfn));
    if (e.zone >= 0) parts.push((ZONE_NAMES[e.zone] ?? "?").padEnd(7));
    // The GFP column of an allocation, left blank in the other block events' lines so that owners line
    // up in the log; `alignOwners` false (the inspector's narrow history) leaves the blank out.
    if (e.kind === "alloc" && e.gfp >= 0) parts.push(alignOwners ? gfpToString(e.gfp).padEnd(GFP_COLUMN) : gfpToString(e.gfp));
    else if (alignOwners && (e.kind === "free" || e.kind === "split" || e.kind === "merge")) parts.push("".padEnd(GFP_COLUMN));
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
