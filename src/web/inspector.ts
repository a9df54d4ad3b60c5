// The frame inspector: for the frame under the mouse (or the one clicked), its block (state, order,
// extent, zone), the owner of an allocated block with the guest backtrace of the call that took it
// (and of the free, once freed), and the frame's recent history from the event log. FrameInspector
// is its controller: hover, pin (on the map or an event line), drag to zoom, and the owner and
// history fetched from the run's worker (or the replay) as the state moves on.

import { gfpToString } from "../mem/index.js";
import type { LiveLogCanvas } from "./live-log.js";
import type { MemoryMapView } from "./map-view.js";
import { blockOf, hexAddr, hexPfn, zoneName, type BlockInfo, type MemorySnapshot } from "./model.js";

/** An allocation as the page owner (or a trace's view rows) knows it. */
export interface OwnerRecord {
  headPfn: number;
  npages: number;
  order: number;
  gfp: number;
  allocSeq: number;
  /** Formatted frames of the allocating call, EIP first ("hc_alloc_pages+0x1c", ...). */
  allocStack: string[];
  owner: string;
  /** The free's site, or null while live. */
  freeSeq: number | null;
  freeStack: string[] | null;
}

/** What the page owner and the event log know of a frame (fetched from the run's worker). */
export interface FrameDetails {
  /** The latest allocation covering the frame, or null. */
  owner: OwnerRecord | null;
  /** Formatted events that touched it, newest first. */
  history: string[];
}

const KIND_TEXT: Record<BlockInfo["kind"], string> = {
  free: "free (on a buddy free list)",
  pcp: "free (on a per-CPU list)",
  alloc: "allocated (ALLOC_PAGES)",
  contig: "allocated (ALLOC_CONTIG range)",
  reserved: "reserved",
  hole: "not RAM",
};

function el(tag: string, className: string, text: string): HTMLElement {
  const e = document.createElement(tag);
  if (className !== "") e.className = className;
  e.textContent = text;
  return e;
}

/**
 * Fills `target` with everything known about frame pfn: its block from the snapshot, and `details`
 * (null while they are being fetched). Returns the block (for the map outline).
 */
export function renderInspector(target: HTMLElement, snap: MemorySnapshot, pfn: number, pinned: boolean, details: FrameDetails | null): BlockInfo {
  const block = blockOf(snap, pfn);
  const out = document.createDocumentFragment();
  out.appendChild(el("div", "insp-title", `${pinned ? "[pinned] " : ""}frame ${hexPfn(pfn)} · ${hexAddr(pfn)} · zone ${zoneName(block.zone)}`));
  const extent =
    block.npages === 1 ? `frame ${hexPfn(block.headPfn)}` : `frames ${hexPfn(block.headPfn)}..${hexPfn(block.headPfn + block.npages - 1)} (${block.npages})`;
  const order = block.order >= 0 ? `, order ${block.order}` : "";
  const label = block.label !== "" ? `: ${block.label}` : "";
  out.appendChild(el("div", `insp-block insp-${block.kind}`, `${KIND_TEXT[block.kind]}${order}${label} · ${extent}`));
  if (pfn !== block.headPfn && (block.kind === "free" || block.kind === "alloc" || block.kind === "pcp" || block.kind === "contig")) {
    out.appendChild(el("div", "insp-note", `head of its block: ${hexPfn(block.headPfn)} (${hexAddr(block.headPfn)})`));
  }
  const record = details?.owner ?? null;
  if (record !== null) {
    const live = record.freeSeq === null;
    const size = record.order >= 0 ? `order ${record.order}` : `${record.npages} frames`;
    const heading = live
      ? `owner: ${record.owner} · ${size}, ${gfpToString(record.gfp)}, allocated at call #${record.allocSeq}`
      : `last owner: ${record.owner} · ${size}, allocated at call #${record.allocSeq}, freed at call #${record.freeSeq}`;
    out.appendChild(el("div", "insp-owner", heading));
    out.appendChild(el("pre", "insp-stack", record.allocStack.map((f) => `  ${f}`).join("\n")));
    if (!live && record.freeStack !== null) {
      out.appendChild(el("div", "insp-note", "freed by:"));
      out.appendChild(el("pre", "insp-stack", record.freeStack.map((f) => `  ${f}`).join("\n")));
    }
  } else if (details !== null && (block.kind === "alloc" || block.kind === "contig")) {
    out.appendChild(el("div", "insp-note", "owner: unknown (no page-owner record for this block)"));
  }
  if (details === null) out.appendChild(el("div", "insp-note", "…"));
  else {
    const history = details.history;
    out.appendChild(el("div", "insp-note", history.length > 0 ? "history (newest first):" : "history: no event in the log touched this frame"));
    if (history.length > 0) out.appendChild(el("pre", "insp-history", history.join("\n")));
  }
  target.replaceChildren(out);
  target.dataset.pfn = String(pfn);
  target.dataset.kind = block.kind;
  return block;
}

/** How often a hovered or pinned frame's owner and history are asked for again while the guest runs. */
const DETAILS_MS = 250;

/** The inspector with no frame: the page's first text, none of a frame's data-* attributes. */
function clearInspector(target: HTMLElement): void {
  target.replaceChildren("Hover over the map.");
  delete target.dataset.pfn;
  delete target.dataset.kind;
  delete target.dataset.detailsSeq;
}

/**
 * The inspector's controller. `onChange` is told whenever the page must redraw (hover, pin, an answer
 * arrived), `zoom` when a drag across the map asks for a region (null: all of it).
 */
export class FrameInspector {
  private hoverPfn = -1;
  private pinnedPfn = -1;
  /** The block drawn outlined on the map (the inspected frame's), null for none. */
  selected: BlockInfo | null = null;
  /** Owner and history of frame pfn, as the source told them when its state was after call seq. */
  private details: { pfn: number; seq: number; data: FrameDetails } | null = null;
  /** Bumped by each new run or replay: answers asked for before are dropped. */
  private generation = 0;
  private pending = false;
  private lastAsked = 0;
  private dragStartPfn = -1;
  /** The zoom label before a drag wrote "zoom to ..." in it: put back when the drag zooms to nothing. */
  private labelBeforeDrag = "";

  constructor(
    private readonly target: HTMLElement,
    private readonly onChange: () => void,
  ) {}

  /** The frame the inspector is about: the pinned one, else the hovered one (-1: none). */
  get pfn(): number {
    return this.pinnedPfn >= 0 ? this.pinnedPfn : this.hoverPfn;
  }

  /**
   * The inspector shows the block at once; owner and history follow from `details` (the run's worker
   * or the replay), asked again at most every DETAILS_MS while the state moves on. With no frame
   * hovered or pinned it says so, rather than keep the last frame's text.
   */
  update(details: (pfn: number) => Promise<FrameDetails>, snap: MemorySnapshot, now: number): void {
    const pfn = this.pfn;
    const target = this.target;
    if (pfn < 0) {
      if (target.dataset.pfn !== undefined) clearInspector(target);
      this.selected = null;
      return;
    }
    const known = this.details !== null && this.details.pfn === pfn ? this.details : null;
    this.selected = renderInspector(target, snap, pfn, this.pinnedPfn >= 0, known?.data ?? null);
    // After which call the owner and history shown were told (for scripts: see docs/web.md).
    target.dataset.detailsSeq = known !== null ? String(known.seq) : "";
    if (this.pending || (known !== null && (known.seq === snap.seq || now - this.lastAsked < DETAILS_MS))) return;
    this.pending = true;
    this.lastAsked = now;
    const seq = snap.seq;
    const generation = this.generation;
    void details(pfn).then((data) => {
      if (generation !== this.generation) return; // about the last run or replay
      this.pending = false;
      this.details = { pfn, seq, data };
      this.onChange();
    });
  }

  /**
   * True when the inspector shows owner and history from an older state than the map's and may ask
   * again: a redraw then fetches them, even when nothing else would redraw (a guest paused after a
   * step, within DETAILS_MS of the last answer).
   */
  stale(snap: MemorySnapshot | null, now: number): boolean {
    const d = this.details;
    return snap !== null && d !== null && d.pfn === this.pfn && d.seq !== snap.seq && !this.pending && now - this.lastAsked >= DETAILS_MS;
  }

  /** The state jumped (a replay's seek): the owner and history shown are asked for again. */
  dropDetails(): void {
    this.details = null;
  }

  /**
   * A new run or replay starts from a blank inspector, and no answer about the last one's frames is
   * taken any more.
   */
  forget(): void {
    this.selected = null;
    this.details = null;
    this.generation++;
    this.pending = false;
    this.pinnedPfn = -1;
    this.hoverPfn = -1;
    clearInspector(this.target);
  }

  /** A click on an event line (the list's, or the live canvas's) pins the frame it names. */
  wireLog(list: HTMLElement, liveLog: LiveLogCanvas): void {
    const pin = (pfn: number): void => {
      if (!(pfn >= 0)) return;
      this.pinnedPfn = pfn;
      this.onChange();
    };
    list.addEventListener("click", (e) => {
      const line = (e.target as Element).closest<HTMLElement>("[data-pfn]");
      if (line !== null) pin(Number(line.dataset.pfn));
    });
    liveLog.canvas.addEventListener("click", (e) => pin(liveLog.pfnAt(e.offsetY)));
  }

  /**
   * Hovering a frame inspects it; a click pins it (a second click unpins); a drag of at least a row
   * zooms to the frames it spans, `zoomLabel` saying which while the mouse moves.
   */
  wireMap(map: MemoryMapView, zoomLabel: HTMLElement, zoom: (range: [number, number]) => void): void {
    const canvas = map.canvas;
    canvas.addEventListener("mousemove", (e) => {
      const pfn = map.pfnAt(e.clientX, e.clientY);
      if (pfn === this.hoverPfn) return;
      this.hoverPfn = pfn;
      if (this.dragStartPfn >= 0 && pfn >= 0) {
        zoomLabel.textContent = `zoom to ${hexAddr(Math.min(pfn, this.dragStartPfn))}..${hexAddr(Math.max(pfn, this.dragStartPfn) + 1)}`;
      }
      if (this.pinnedPfn < 0) this.onChange();
    });
    canvas.addEventListener("mouseleave", () => {
      this.hoverPfn = -1;
      if (this.dragStartPfn >= 0) zoomLabel.textContent = this.labelBeforeDrag;
      this.dragStartPfn = -1;
      if (this.pinnedPfn < 0) this.onChange();
    });
    canvas.addEventListener("mousedown", (e) => {
      this.dragStartPfn = map.pfnAt(e.clientX, e.clientY);
      this.labelBeforeDrag = zoomLabel.textContent ?? "";
    });
    canvas.addEventListener("mouseup", (e) => {
      const pfn = map.pfnAt(e.clientX, e.clientY);
      const start = this.dragStartPfn;
      this.dragStartPfn = -1;
      if (pfn < 0 || start < 0) {
        // Released on no frame (past the last one): neither a zoom nor a pin.
        if (start >= 0) zoomLabel.textContent = this.labelBeforeDrag;
        return;
      }
      if (Math.abs(pfn - start) >= map.layout.columns) zoom([Math.min(pfn, start), Math.max(pfn, start) + 1]);
      else {
        // Less than a row: a click that pins, not a zoom; the label says what it said before.
        zoomLabel.textContent = this.labelBeforeDrag;
        this.pinnedPfn = this.pinnedPfn === pfn ? -1 : pfn;
        if (this.pinnedPfn < 0) this.selected = null;
      }
      this.onChange();
    });
  }
}
