// The frame inspector: for the frame under the mouse (or the one clicked), its block (state, order,
// extent, zone), the owner of an allocated block with the guest backtrace of the call that took it
// (and of the free, once freed), and the frame's recent history from the event log.

import { gfpToString } from "../mem/index.js";
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
