// The small DOM panels: the map's legend for the colour mode in use (free and allocated blocks by
// order, one swatch per state, or the owners seen in the last drawing, most frames first), and the
// status line above the map (what runs, its state, calls, free frames, the last MARK; once ended, how
// it ended and its ns per bridge call; a replay's position). The status line's data-* attributes
// (state, calls, exit code, ns per call) are there for scripts and tests.

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
  );
  target.replaceChildren(...items);
}

/** Writes the status line. */
export function renderStatus(el: HTMLElement, error: string | null, run: RemoteRun | null, replay: TraceReplay | null): void {
  if (error !== null) {
    el.dataset.state = "error";
    el.textContent = error;
    return;
  }
  if (run !== null) {
    el.dataset.state = run.state;
    el.dataset.calls = String(run.calls);
    const what = `${run.settings.kernelName} "${run.settings.cmdline}"`;
    const r = run.report;
    if (r !== null) {
      el.dataset.exitCode = String(r.exitCode);
      el.dataset.nsPerCall = String(r.bridgeNsPerCall ?? "");
      const ns = r.bridgeNsPerCall === null ? "n/a" : `${r.bridgeNsPerCall.toFixed(0)} ns`;
      el.textContent = `${r.reason}: ${r.message} · ${run.calls} calls · ${ns} per bridge call (guest ${r.guestMs.toFixed(0)} ms) · ${what}`;
    } else {
      const mark = run.lastMark === null ? "" : ` · last MARK "${run.lastMark.label}" at call ${run.lastMark.seq}`;
      el.textContent = `${run.state} · call ${run.calls}${run.freeFrames >= 0 ? ` · ${run.freeFrames} free frames` : ""}${mark} · ${what}`;
    }
    return;
  }
  if (replay !== null) {
    el.dataset.state = "replay";
    const cut = replay.eventsCut ? " · events were cut by --trace-limit: later moments show snapshots only" : "";
    el.textContent = `replay · call ${replay.seq} of ${replay.firstSeq}..${replay.lastSeq} · ${replay.model.snapshots.length} snapshots${cut}`;
  }
}
