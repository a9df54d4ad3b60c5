// The small DOM panels: the map's legend for the colour mode in use (free and allocated blocks by
// order, one swatch per state, or the owners seen in the last drawing, most frames first), and the
// status line above the map (what runs, its state, calls, free frames, the last MARK; once ended, how
// it ended and its ns per bridge call; a replay's position). The status line's data-* attributes
// (state, calls, exit code, ns per call) are there for scripts and tests. Text is written only when
// it changes: any change costs the page a layout and a paint.

import { ALLOC_BY_ORDER, COLOURS, FREE_BY_ORDER, cssColour, ownerColour, type ColourMode } from "./palette.js";
import type { RemoteRun } from "./remote-run.js";
import type { TraceReplay } from "./replay.js";

const MAX_OWNERS = 10;

function item(rgb: number, text: string): HTMLElement {
  const span = document.createElement("span");
  const swatch = document.createElement("span");
  swatch.className = "swatch";
  swatch.style.background = cssColour(rgb);
  span.append(swatch, text);
  return span;
}

function orderRamp(colours: readonly number[], maxOrder: number, what: string): HTMLElement {
  const span = document.createElement("span");
  span.append(`${what} order 0`);
  for (let o = 0; o <= Math.min(maxOrder, 10); o++) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = cssColour(colours[o]!);
    swatch.style.marginRight = "1px";
    span.append(swatch);
  }
  span.append(`${Math.min(maxOrder, 10)}${maxOrder > 10 ? "+" : ""}`);
  return span;
}

let shownKey = "";

/** Redraws the legend when what it shows changed (owners: the frames per owner of the last frame). */
export function renderLegend(target: HTMLElement, mode: ColourMode, maxOrder: number, ownerFrames: ReadonlyMap<string, number>): void {
  const owners = [...ownerFrames.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_OWNERS);
  const key = `${mode}:${maxOrder}:${mode === "owner" ? owners.map(([n]) => n).join(",") : ""}`;
  if (key === shownKey && target.childElementCount > 0) return;
  shownKey = key;
  const items: HTMLElement[] = [];
  if (mode === "order") {
    items.push(orderRamp(FREE_BY_ORDER, maxOrder, "free"), orderRamp(ALLOC_BY_ORDER, maxOrder, "allocated"));
  } else if (mode === "state") {
    items.push(item(COLOURS.free, "free"), item(COLOURS.allocated, "allocated"));
  } else {
    items.push(item(COLOURS.ownerFree, "free"));
    for (const [name] of owners) items.push(item(ownerColour(name), name));
    if (owners.length === 0) items.push(item(COLOURS.allocated, "allocated (owner unknown)"));
  }
  items.push(
    item(COLOURS.pcp, "per-CPU list"),
    item(COLOURS.contig, "ALLOC_CONTIG"),
    item(COLOURS.reserved, "reserved"),
    item(COLOURS.hole, "not RAM"),
    item(COLOURS.zoneLine, "zone boundary"),
    item(COLOURS.selection, "inspected block (dashed outline)"),
  );
  target.replaceChildren(...items);
}

/** Sets an element's text, unless it shows that text already (a write costs a layout, a compare does not). */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets a data-* attribute, unless it holds that value already. */
function setData(el: HTMLElement, key: string, value: string): void {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

/**
 * The status line. A run's counters (its calls and free frames) and a replay's call move on only when
 * the caller says so (page.ts: a few times a second while they move, at once when they stand still;
 * each write of text costs the page a layout and a paint); everything else shows at once, and an
 * ended run's line gives its exact call count from the report.
 */
export class StatusLine {
  private calls = 0;
  private freeFrames = -1;
  /** The last MARK as of the counters shown (moving on with them: a newer one beside an older count read as a contradiction). */
  private lastMark: { seq: number; label: string } | null = null;
  private replaySeq = 0;

  constructor(private readonly el: HTMLElement) {}

  render(error: string | null, run: RemoteRun | null, replay: TraceReplay | null, counters: boolean): void {
    const el = this.el;
    if (error !== null) {
      setData(el, "state", "error");
      setText(el, error);
      return;
    }
    if (run !== null) {
      if (counters) {
        this.calls = run.calls;
        this.freeFrames = run.freeFrames;
        this.lastMark = run.lastMark;
      }
      setData(el, "state", run.state);
      setData(el, "calls", String(this.calls));
      setData(el, "poison", String(run.poisonViolations));
      const what = `${run.settings.kernelName} "${run.settings.cmdline}"`;
      const r = run.report;
      if (r !== null) {
        setData(el, "exitCode", String(r.exitCode));
        setData(el, "nsPerCall", String(r.bridgeNsPerCall ?? ""));
        const ns = r.bridgeNsPerCall === null ? "n/a" : `${r.bridgeNsPerCall.toFixed(0)} ns`;
        // A guest that exits 0 after writing a freed page did not pass: say so where the exit is said.
        const poison = run.poisonViolations > 0 ? ` · poison: ${run.poisonViolations} use after free (see the reports)` : "";
        setText(el, `${r.reason}: ${r.message}${poison} · ${run.calls} calls · ${ns} per bridge call (guest ${r.guestMs.toFixed(0)} ms) · ${what}`);
      } else {
        // A count of calls (the MARK's "call N" is its number, from 0): paused right after MARK #N is N + 1 calls.
        const mark = this.lastMark === null ? "" : ` · last MARK "${this.lastMark.label}" at call #${this.lastMark.seq}`;
        setText(el, `${run.state} · ${this.calls} calls${this.freeFrames >= 0 ? ` · ${this.freeFrames} free frames` : ""}${mark} · ${what}`);
      }
      return;
    }
    if (replay !== null) {
      // A playing replay's call moves on every frame, as a running guest's count does.
      if (counters) this.replaySeq = replay.seq;
      setData(el, "state", "replay");
      const cut = replay.eventsCut ? " · events were cut by --trace-limit: later moments show snapshots only" : "";
      setText(el, `replay · call ${this.replaySeq} of ${replay.firstSeq}..${replay.lastSeq} · ${replay.model.snapshots.length} snapshots${cut}`);
    }
  }
}
