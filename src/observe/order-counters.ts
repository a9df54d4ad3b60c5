// Per-order event counters (Linux keeps a few of these in /proc/vmstat: pgalloc_*, pgfree, compact
// failures; buddy86 counts everything per order): allocations, frees, splits, merges and failures.
// A split is counted at the order of the block that was split (the event reports its halves' order);
// a merge at the order of the block it formed. Contig ranges, per-CPU drains and protocol errors are
// counted beside the table. Typed arrays, one increment per event.

import { eventKindCode, type AllocatorEvent, type EventSubscriber } from "./events.js";
import { KIND_ALLOC, KIND_FREE, KIND_SPLIT } from "./layout.js";

export const COUNTER_ROWS = ["allocs", "frees", "splits", "merges", "failures"] as const;
export type CounterRow = (typeof COUNTER_ROWS)[number];

/** The counters as plain data (for JSON, traces and re-rendering). */
export interface OrderCountersData {
  maxOrder: number;
  /** Row name -> count per order 0..maxOrder. */
  perOrder: Record<CounterRow, number[]>;
  contigAllocs: number;
  contigFrames: number;
  contigFrees: number;
  contigFailures: number;
  pcpDrains: number;
  pcpDrainedFrames: number;
  injectedFailures: number;
  /**
   * `protocol-error` events: requests refused with a status other than OK or ENOMEM, and port
   * misuse. Not the run report's `protocolErrors`, which counts port misuse only (docs/protocol.md).
   */
  protocolErrorEvents: number;
}

const ORDER_SLOTS = 32;

/** OrderCounters' counts, for snapshots (the table, then the extras in OrderCountersData's order). */
export interface OrderCountersState {
  table: Float64Array;
  extras: number[];
}

export class OrderCounters implements EventSubscriber {
  /** Row r, order o at r * 32 + o. */
  private readonly table = new Float64Array(COUNTER_ROWS.length * ORDER_SLOTS);
  private contigAllocs = 0;
  private contigFrames = 0;
  private contigFrees = 0;
  private contigFailures = 0;
  private pcpDrains = 0;
  private pcpDrainedFrames = 0;
  private injectedFailures = 0;
  private protocolErrorEvents = 0;

  onEvent(e: Readonly<AllocatorEvent>): void {
    switch (e.kind) {
      case "alloc":
      case "free":
      case "split":
      case "merge":
        this.onBlock(eventKindCode(e.kind), e.seq, e.record, e.pfn, e.order, e.npages);
        break;
      case "fail":
        if (e.order >= 0) this.table[4 * ORDER_SLOTS + e.order]!++;
        else this.contigFailures++;
        if (e.injected) this.injectedFailures++;
        break;
      case "pcp-drain":
        this.pcpDrains++;
        this.pcpDrainedFrames += e.npages;
        break;
      case "protocol-error":
        this.protocolErrorEvents++;
        break;
      default:
        break;
    }
  }

  /** An alloc, free, split or merge, as the hub hands them over (EventSubscriber.onBlock). */
  onBlock(code: number, _seq: number, _record: number, _pfn: number, order: number, npages: number): void {
    if (code === KIND_ALLOC) {
      if (order >= 0) this.table[order]!++;
      else {
        this.contigAllocs++;
        this.contigFrames += npages;
      }
    } else if (code === KIND_FREE) {
      if (order >= 0) this.table[ORDER_SLOTS + order]!++;
      else this.contigFrees++;
    } else if (code === KIND_SPLIT) this.table[2 * ORDER_SLOTS + order + 1]!++;
    else this.table[3 * ORDER_SLOTS + order]!++;
  }

  getState(): OrderCountersState {
    return {
      table: this.table.slice(),
      extras: [this.contigAllocs, this.contigFrames, this.contigFrees, this.contigFailures, this.pcpDrains, this.pcpDrainedFrames, this.injectedFailures, this.protocolErrorEvents],
    };
  }

  /** Puts back a getState() (a restored run goes on counting from the checkpoint). Throws on a malformed state. */
  setState(s: OrderCountersState): void {
    if (s.table.length !== this.table.length || s.extras.length !== 8) throw new Error("OrderCounters.setState: the state has another shape");
    this.table.set(s.table);
    [this.contigAllocs, this.contigFrames, this.contigFrees, this.contigFailures, this.pcpDrains, this.pcpDrainedFrames, this.injectedFailures, this.protocolErrorEvents] = s.extras as [number, number, number, number, number, number, number, number];
  }

  data(maxOrder: number): OrderCountersData {
    const perOrder = {} as Record<CounterRow, number[]>;
    COUNTER_ROWS.forEach((row, r) => {
      perOrder[row] = Array.from(this.table.subarray(r * ORDER_SLOTS, r * ORDER_SLOTS + maxOrder + 1));
    });
    return {
      maxOrder,
      perOrder,
      contigAllocs: this.contigAllocs,
      contigFrames: this.contigFrames,
      contigFrees: this.contigFrees,
      contigFailures: this.contigFailures,
      pcpDrains: this.pcpDrains,
      pcpDrainedFrames: this.pcpDrainedFrames,
      injectedFailures: this.injectedFailures,
      protocolErrorEvents: this.protocolErrorEvents,
    };
  }
}

/** The counters as a table: one row per counter, one column per order, then the extras. */
export function formatOrderCounters(d: OrderCountersData): string {
  let head = "per-order counters   order";
  for (let o = 0; o <= d.maxOrder; o++) head += String(o).padStart(9);
  const lines = [head];
  for (const row of COUNTER_ROWS) lines.push(row.padEnd(26) + d.perOrder[row].map((n) => String(n).padStart(9)).join(""));
  lines.push(
    `contig: ${d.contigAllocs} allocs (${d.contigFrames} frames), ${d.contigFrees} frees, ${d.contigFailures} failures; ` +
      `pcp drains: ${d.pcpDrains} (${d.pcpDrainedFrames} frames); injected failures: ${d.injectedFailures}; protocol-error events (refused requests and port misuse): ${d.protocolErrorEvents}`,
  );
  return lines.join("\n") + "\n";
}
