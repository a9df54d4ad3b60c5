// Linux's warn_alloc() + show_free_areas() for an allocation that ended in ENOMEM: the failing request
// with its mode, the guest's call trace, then per zone the free memory and the "N*4kB ... = NkB" line.
// Rate-limited like Linux's ratelimit (a burst per interval, then "N callbacks suppressed"), but on the
// deterministic clock: the interval is counted in hypercalls, not seconds, so a run's warnings repeat.

import { PAGE_SIZE } from "../mem/index.js";
import type { EventHub } from "./event-hub.js";
import type { AllocatorEvent, EventSubscriber } from "./events.js";
import { maskText } from "./owner-report.js";
import type { Symbolizer } from "./symbols.js";

/** Linux DEFAULT_RATELIMIT_BURST; the interval is ours (Linux: 5 s). */
export const WARN_BURST = 10;
export const WARN_INTERVAL_CALLS = 10_000;

/** WarnAlloc's reports and rate-limit window, for snapshots. */
export interface WarnAllocState {
  reports: string[];
  suppressed: number;
  /** The window's first call (-1: none yet), reports in it, suppressed since the last report. */
  windowStart: number;
  inWindow: number;
  pendingSuppressed: number;
}

export class WarnAlloc implements EventSubscriber {
  /** Every report printed, in order. */
  readonly reports: string[] = [];
  suppressed = 0;
  private windowStart = -Infinity;
  private inWindow = 0;
  /** Suppressed since the last report printed: announced at the head of the next one. */
  private pendingSuppressed = 0;

  constructor(
    private readonly hub: EventHub,
    private readonly sym: Symbolizer,
    private readonly onReport: ((text: string) => void) | null = null,
    private readonly burst = WARN_BURST,
    private readonly intervalCalls = WARN_INTERVAL_CALLS,
  ) {}

  getState(): WarnAllocState {
    return { reports: [...this.reports], suppressed: this.suppressed, windowStart: Number.isFinite(this.windowStart) ? this.windowStart : -1, inWindow: this.inWindow, pendingSuppressed: this.pendingSuppressed };
  }

  /** Puts back a getState() into a WarnAlloc that has reported nothing (a restored run). */
  setState(s: WarnAllocState): void {
    if (this.reports.length !== 0 || this.suppressed !== 0) throw new Error("WarnAlloc.setState: it has already reported");
    this.reports.push(...s.reports);
    this.suppressed = s.suppressed;
    this.windowStart = s.windowStart < 0 ? -Infinity : s.windowStart;
    this.inWindow = s.inWindow;
    this.pendingSuppressed = s.pendingSuppressed;
  }

  /** Allocs, frees, splits and merges are not its business: declaring the hook spares their events. */
  onBlock(): void {}

  onEvent(e: Readonly<AllocatorEvent>): void {
    if (e.kind !== "fail") return;
    if (e.seq - this.windowStart >= this.intervalCalls) {
      this.windowStart = e.seq;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.burst) {
      this.suppressed++;
      this.pendingSuppressed++;
      return;
    }
    this.inWindow++;
    const text = this.format(e);
    this.reports.push(text);
    if (this.onReport !== null) this.onReport(text);
  }

  private format(e: Readonly<AllocatorEvent>): string {
    const lines: string[] = [];
    if (this.pendingSuppressed > 0) {
      lines.push(`warn_alloc: ${this.pendingSuppressed} callbacks suppressed`);
      this.pendingSuppressed = 0;
    }
    const what = e.order >= 0 ? `order:${e.order}` : `alloc_contig npages:${e.npages}`;
    const injected = e.injected ? " (injected)" : "";
    lines.push(`buddy86: page allocation failure: ${what}, mode:${maskText(e.gfp)}, call ${e.seq} (icount ${e.icount})${injected}`);
    lines.push("Call Trace:");
    const stack = this.hub.currentStack();
    for (const f of this.sym.formatStack(this.hub.depot, stack)) lines.push(` ${f}`);
    const buddy = this.hub.allocator;
    if (buddy !== null) {
      lines.push("Mem-Info:");
      const kb = PAGE_SIZE / 1024;
      const pcp = buddy.pcpFrames();
      for (const [k, z] of buddy.zones().entries()) {
        const name = z.name;
        lines.push(`Node 0 ${name} free:${z.free * kb}kB pcp:${pcp[k]! * kb}kB managed:${z.managed * kb}kB`);
        const parts = z.freeBlocks.map((n, o) => `${n}*${kb << o}kB`);
        lines.push(`${name}: ${parts.join(" ")} = ${z.free * kb}kB`);
      }
    }
    return lines.join("\n");
  }
}
