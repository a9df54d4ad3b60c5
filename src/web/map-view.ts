// The physical memory map: one square cell per frame on a canvas, row-major from the view's first
// frame, coloured by the frame's block (palette.ts). Columns are a power of two, so zone boundaries
// (16 MiB, 896 MiB) always fall on a row boundary and are drawn as lines. Cells shrink to one pixel
// for big memories (2 GiB is 1024 x 512); zooming to a region (drag, or a zone button) grows them.
// The canvas carries its layout in data-* attributes, so tests can find the cell of any frame.

import { FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_NONE, FRAME_PCP } from "../mem/index.js";
import { ORDER_MASK, STATE_SHIFT, buddyHeadIndex, zoneSpans, type MemorySnapshot } from "./model.js";
import { COLOURS, headShade, stateColour, toPixel, type ColourMode } from "./palette.js";

/** Canvas width in pixels; the height follows from the frame count. */
export const MAP_WIDTH = 1024;
const MAX_HEIGHT = 640;
const CELL_SIZES = [32, 16, 8, 4, 2, 1];

export interface MapLayout {
  /** First frame drawn (a multiple of columns) and the end of the requested range. */
  startPfn: number;
  endPfn: number;
  columns: number;
  /** Cell pitch in pixels (cells are cell - 1 wide with a grid line when cell >= 4). */
  cell: number;
  rows: number;
}

/** Picks the largest cell that fits [startPfn, endPfn) into MAP_WIDTH x MAX_HEIGHT. */
export function layoutFor(startPfn: number, endPfn: number): MapLayout {
  for (const cell of CELL_SIZES) {
    const columns = MAP_WIDTH / cell;
    const start = Math.floor(startPfn / columns) * columns;
    const rows = Math.max(1, Math.ceil((endPfn - start) / columns));
    if (rows * cell <= MAX_HEIGHT || cell === 1) return { startPfn: start, endPfn, columns, cell, rows };
  }
  throw new Error("layoutFor: unreachable");
}

/** Returns the owner colour (0xRRGGBB) of the allocated block whose head is pfn, or -1 if unknown. */
export type OwnerColourOf = (headPfn: number) => number;

export class MemoryMapView {
  layout: MapLayout = layoutFor(0, 1);
  private image: ImageData | null = null;
  /** The state bytes the image was painted from, and what else decided its pixels. */
  private drawnMeta: Uint8Array | null = null;
  private drawnKey = "";
  private readonly ctx: CanvasRenderingContext2D;
  private range: [number, number] | null = null;

  constructor(readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext("2d", { alpha: false });
    if (ctx === null) throw new Error("MemoryMapView: no 2D canvas context");
    this.ctx = ctx;
  }

  /** Shows only [startPfn, endPfn) (null: all of RAM). Takes effect at the next render. */
  zoom(range: [number, number] | null): void {
    this.range = range === null ? null : [Math.max(0, Math.floor(range[0])), Math.max(Math.floor(range[0]) + 1, Math.ceil(range[1]))];
  }

  get zoomed(): [number, number] | null {
    return this.range;
  }

  /** The frame under a client (mouse) position, or -1 outside the drawn frames. */
  pfnAt(clientX: number, clientY: number): number {
    const rect = this.canvas.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) return -1;
    const x = ((clientX - rect.left) * this.canvas.width) / rect.width;
    const y = ((clientY - rect.top) * this.canvas.height) / rect.height;
    const { cell, columns, startPfn, endPfn } = this.layout;
    const col = Math.floor(x / cell);
    const row = Math.floor(y / cell);
    if (col < 0 || col >= columns || row < 0) return -1;
    const pfn = startPfn + row * columns + col;
    return pfn < endPfn ? pfn : -1;
  }

  /**
   * Draws the snapshot; `selected` is outlined. It runs every display frame while a guest runs, so
   * it repaints only the cell rows whose frames' state bytes changed since the last drawing, widened
   * to whole max-order blocks (a head's change recolours its tails): most frames change a few blocks.
   * A new layout, colour mode, owner colouring or selection repaints everything.
   */
  render(snap: MemorySnapshot, mode: ColourMode, ownerColourOf: OwnerColourOf | null, selected: { headPfn: number; npages: number } | null): void {
    const [from, to] = this.range ?? [0, snap.ramPfns];
    const layout = layoutFor(Math.min(from, snap.ramPfns - 1), Math.min(to, snap.ramPfns));
    this.layout = layout;
    const width = MAP_WIDTH;
    const height = layout.rows * layout.cell;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.drawnMeta = null;
    }
    if (this.image === null || this.image.width !== width || this.image.height !== height) {
      this.image = this.ctx.createImageData(width, height);
      this.drawnMeta = null;
    }
    const pixels = new Uint32Array(this.image.data.buffer);
    const { startPfn, columns, cell, rows } = layout;
    const sel = selected === null ? "" : `${selected.headPfn}+${selected.npages}`;
    const key = `${width}x${height}:${startPfn}:${layout.endPfn}:${mode}:${snap.basePfn}:${snap.maxOrder}:${snap.ramPfns}:${sel}`;
    let rowLo = 0;
    let rowHi = rows;
    const drawn = this.drawnMeta;
    // Owner colours come from outside the state bytes: owner mode always repaints everything.
    if (drawn !== null && drawn.length === snap.meta.length && key === this.drawnKey && ownerColourOf === null) {
      const changed = changedFrames(drawn, snap.meta);
      if (changed === null) rowHi = 0;
      else {
        const block = 2 ** snap.maxOrder;
        const pfnLo = Math.floor((changed[0] + snap.basePfn) / block) * block;
        const pfnHi = Math.ceil((changed[1] + 1 + snap.basePfn) / block) * block;
        rowLo = Math.max(0, Math.floor((pfnLo - startPfn) / columns));
        rowHi = Math.min(rows, Math.ceil((pfnHi - startPfn) / columns));
      }
    }
    if (rowHi > rowLo) {
      pixels.fill(toPixel(COLOURS.background), rowLo * cell * width, rowHi * cell * width);
      this.paintCells(snap, mode, ownerColourOf, pixels, rowLo, rowHi);
      this.ctx.putImageData(this.image, 0, 0, 0, rowLo * cell, width, (rowHi - rowLo) * cell);
      this.drawZoneLines(snap);
      if (selected !== null) this.outline(selected.headPfn, selected.npages);
      if (drawn !== null && drawn.length === snap.meta.length) drawn.set(snap.meta);
      else this.drawnMeta = snap.meta.slice();
      this.drawnKey = key;
    }
    const c = this.canvas.dataset;
    c.startPfn = String(layout.startPfn);
    c.columns = String(layout.columns);
    c.cell = String(layout.cell);
    c.seq = String(snap.seq);
  }

  /**
   * Blank: no frame drawn and no seq (a new run before its MEMMAP, or one that never makes one, must
   * not show the last run's memory).
   */
  clear(): void {
    this.ctx.fillStyle = `#${COLOURS.background.toString(16).padStart(6, "0")}`;
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawnMeta = null;
    this.drawnKey = "";
    delete this.canvas.dataset.seq;
  }

  /** One pass over the frames of cell rows [rowLo, rowHi): each block's colour, its head a shade darker. */
  private paintCells(snap: MemorySnapshot, mode: ColourMode, ownerColourOf: OwnerColourOf | null, pixels: Uint32Array, rowLo: number, rowHi: number): void {
    const { startPfn: viewStart, columns, cell } = this.layout;
    const startPfn = viewStart + rowLo * columns;
    const end = Math.min(this.layout.endPfn, viewStart + rowHi * columns);
    const meta = snap.meta;
    const base = snap.basePfn;
    const shadeHeads = cell >= 4;
    const size = cell >= 4 ? cell - 1 : cell;
    const reserved = toPixel(COLOURS.reserved);
    const hole = toPixel(COLOURS.hole);
    let blockPixel = reserved;
    let left = 0; // tail frames of the current buddy block still to come
    // Rows starting inside a block begin with tails: find the block's head first.
    const firstIdx = startPfn - base;
    if (firstIdx > 0 && firstIdx < meta.length) {
      const head = buddyHeadIndex(snap, firstIdx);
      if (head >= 0 && head < firstIdx) {
        const m = meta[head]!;
        blockPixel = toPixel(this.blockColour(mode, m >>> STATE_SHIFT, m & ORDER_MASK, head + base, ownerColourOf));
        left = head + (1 << (m & ORDER_MASK)) - firstIdx;
      }
    }
    for (let pfn = startPfn; pfn < end; pfn++) {
      const idx = pfn - base;
      let pixel: number;
      const m = idx >= 0 && idx < meta.length ? meta[idx]! : -1;
      const st = m < 0 ? FRAME_NONE : m >>> STATE_SHIFT;
      if (st === FRAME_FREE || st === FRAME_PCP || st === FRAME_ALLOC) {
        const rgb = this.blockColour(mode, st, m & ORDER_MASK, pfn, ownerColourOf);
        blockPixel = toPixel(rgb);
        left = (1 << (m & ORDER_MASK)) - 1;
        pixel = shadeHeads ? toPixel(headShade(rgb)) : blockPixel;
      } else if (st === FRAME_CONTIG_HEAD || st === FRAME_CONTIG_TAIL) {
        const rgb = this.blockColour(mode, st, 0, pfn, ownerColourOf);
        left = 0;
        pixel = st === FRAME_CONTIG_HEAD && shadeHeads ? toPixel(headShade(rgb)) : toPixel(rgb);
      } else if (st === FRAME_NONE) {
        left = 0;
        pixel = pfn < snap.ramPfns ? reserved : hole;
      } else if (left > 0) {
        pixel = blockPixel;
        left--;
      } else {
        pixel = reserved; // a tail with no head before it: cannot happen in a consistent snapshot
      }
      // Only the first pixel line of each cell row is written here; copyRows() repeats it.
      const offset = pfn - viewStart;
      const at = Math.floor(offset / columns) * cell * MAP_WIDTH + (offset % columns) * cell;
      if (size === 1) pixels[at] = pixel;
      else pixels.fill(pixel, at, at + size);
    }
    if (size > 1) copyRows(pixels, rowLo, rowHi, cell, size);
  }

  private blockColour(mode: ColourMode, state: number, order: number, headPfn: number, ownerColourOf: OwnerColourOf | null): number {
    if (mode === "owner" && ownerColourOf !== null && (state === FRAME_ALLOC || state === FRAME_CONTIG_HEAD || state === FRAME_CONTIG_TAIL)) {
      const rgb = ownerColourOf(headPfn);
      if (rgb >= 0) return rgb;
    }
    return stateColour(mode, state, order);
  }

  /**
   * Zone boundaries as white lines that hide no frame: with cells of 4 pixels and more, in the grid
   * gap above the zone's first row; with 2-pixel cells, over the bottom pixel row of the row above,
   * so each frame keeps its top pixel row (where tools read a cell's colour); with 1-pixel cells
   * (1 GiB and more) a line would cover a row of frames whole, so none is drawn there, and the zone
   * buttons above the map name the zones.
   */
  private drawZoneLines(snap: MemorySnapshot): void {
    const { startPfn, columns, cell, rows } = this.layout;
    if (cell === 1) return;
    const ctx = this.ctx;
    ctx.fillStyle = "#" + COLOURS.zoneLine.toString(16).padStart(6, "0");
    for (const z of zoneSpans(snap)) {
      if (z.startPfn <= startPfn || z.startPfn >= startPfn + rows * columns) continue;
      const y = Math.floor((z.startPfn - startPfn) / columns) * cell;
      ctx.fillRect(0, y - 1, MAP_WIDTH, 1);
    }
  }

  /** Outlines frames [headPfn, headPfn + npages) in the grid gaps around them, row by row. */
  private outline(headPfn: number, npages: number): void {
    const { startPfn, columns, cell, rows } = this.layout;
    const first = Math.max(headPfn, startPfn);
    const last = Math.min(headPfn + npages, startPfn + rows * columns);
    const ctx = this.ctx;
    ctx.strokeStyle = "#" + COLOURS.selection.toString(16).padStart(6, "0");
    ctx.lineWidth = cell >= 4 ? 1 : 2;
    ctx.setLineDash([4, 3]);
    for (let pfn = first; pfn < last; ) {
      const offset = pfn - startPfn;
      const col = offset % columns;
      const run = Math.min(last - pfn, columns - col);
      const x = col * cell;
      const y = Math.floor(offset / columns) * cell;
      ctx.strokeRect(x - 0.5, y - 0.5, run * cell, cell);
      pfn += run;
    }
    ctx.setLineDash([]);
  }
}

/** Repeats the first pixel line of cell rows [rowLo, rowHi) over the cell's other lines (size - 1 of them). */
function copyRows(pixels: Uint32Array, rowLo: number, rowHi: number, cell: number, size: number): void {
  for (let r = rowLo; r < rowHi; r++) {
    const first = r * cell * MAP_WIDTH;
    for (let dy = 1; dy < size; dy++) pixels.copyWithin(first + dy * MAP_WIDTH, first, first + MAP_WIDTH);
  }
}

/** The first and last index where two equally long state-byte arrays differ, or null when equal. */
function changedFrames(before: Uint8Array, after: Uint8Array): [number, number] | null {
  let first = 0;
  while (first < after.length && before[first] === after[first]) first++;
  if (first === after.length) return null;
  let last = after.length - 1;
  while (last > first && before[last] === after[last]) last--;
  return [first, last];
}
