// Two small canvas charts: buddyinfo as bars (free blocks per zone and order, the numbers of
// /proc/buddyinfo) and the unusable index of one zone over time (Linux's unusable_free_index per
// order, one line per order, hypercalls on the x axis) drawn from timeline samples - the samples a
// live run's Timeline takes and a trace file's counters hold alike.

import { unusableFreeIndexRow } from "../mem/index.js";
import { FREE_BY_ORDER, cssColour } from "./palette.js";

/** What the bars need per zone (src/observe/snapshot.ts ZoneStats has these fields). */
export interface ZoneBlocks {
  name: string;
  freeBlocks: readonly number[];
}

/** Free blocks per zone and order over time (src/observe/timeline.ts TimelineData has these). */
export interface FreeBlockSamples {
  maxOrder: number;
  zones: number[];
  seq: number[];
  /** Per sample, per present zone: frames on the buddy lists. */
  freeFrames: number[][];
  /** Per sample, per present zone, per order. */
  freeBlocks: number[][][];
}

const FONT = "11px ui-monospace, SFMono-Regular, Menlo, monospace";
const TEXT = "#c9d1d9";
const GRID = "#30363d";

function context(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("charts: no 2D canvas context");
  ctx.clearRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.textBaseline = "alphabetic";
  return ctx;
}

/**
 * One group of bars per zone: bar heights are log-scaled (log2(1 + blocks)) so that a zone's few
 * max-order blocks and its many order-0 blocks both show; the exact count is written above each bar.
 */
export function drawBuddyinfoBars(canvas: HTMLCanvasElement, zones: readonly ZoneBlocks[]): void {
  // The panel is under the map, as wide (its CSS width scales the canvas to the column).
  const width = 1024;
  const rowHeight = 78;
  const ctx = context(canvas, width, Math.max(1, zones.length) * rowHeight);
  const left = 58;
  for (let zi = 0; zi < zones.length; zi++) {
    const zone = zones[zi]!;
    const top = zi * rowHeight;
    const base = top + rowHeight - 16;
    const orders = zone.freeBlocks.length;
    const slot = (width - left - 4) / Math.max(1, orders);
    const maxLog = Math.max(1, ...zone.freeBlocks.map((n) => Math.log2(1 + n)));
    ctx.fillStyle = TEXT;
    ctx.fillText(zone.name, 4, base - 20);
    ctx.fillStyle = GRID;
    ctx.fillRect(left, base, width - left - 4, 1);
    for (let o = 0; o < orders; o++) {
      const n = zone.freeBlocks[o]!;
      const h = Math.round(((rowHeight - 34) * Math.log2(1 + n)) / maxLog);
      const x = left + o * slot + 2;
      ctx.fillStyle = cssColour(FREE_BY_ORDER[o]!);
      ctx.fillRect(x, base - h, slot - 4, h);
      ctx.fillStyle = TEXT;
      const label = String(n);
      ctx.fillText(label, x + (slot - 4 - ctx.measureText(label).width) / 2, base - h - 3);
      const ol = String(o);
      ctx.fillStyle = "#8b949e";
      ctx.fillText(ol, x + (slot - 4 - ctx.measureText(ol).width) / 2, base + 12);
    }
  }
}

/**
 * The unusable index (0..1) of zone `zoneIndex` (an index into samples.zones) for every order, over
 * the samples; `cursorSeq` draws a vertical line (a replay's position), or -1 for none.
 */
export function drawUnusableIndex(canvas: HTMLCanvasElement, samples: FreeBlockSamples | null, zoneIndex: number, cursorSeq = -1): void {
  const width = 460;
  const height = 170;
  const ctx = context(canvas, width, height);
  const left = 34;
  const right = width - 8;
  const top = 8;
  const bottom = height - 22;
  ctx.fillStyle = GRID;
  for (const f of [0, 0.5, 1]) ctx.fillRect(left, bottom - f * (bottom - top), right - left, 1);
  ctx.fillStyle = "#8b949e";
  ctx.fillText("1.0", 4, top + 4);
  ctx.fillText("0.5", 4, (top + bottom) / 2 + 4);
  ctx.fillText("0", 16, bottom + 4);
  if (samples === null || samples.seq.length === 0 || zoneIndex < 0 || zoneIndex >= samples.zones.length) {
    ctx.fillText("no samples yet", left + 8, (top + bottom) / 2);
    return;
  }
  const n = samples.seq.length;
  const firstSeq = samples.seq[0]!;
  const lastSeq = Math.max(firstSeq + 1, samples.seq[n - 1]!, cursorSeq);
  const xOf = (seq: number): number => left + ((seq - firstSeq) / (lastSeq - firstSeq)) * (right - left);
  ctx.fillText(`call ${firstSeq}`, left, height - 6);
  const endLabel = `call ${lastSeq}`;
  ctx.fillText(endLabel, right - ctx.measureText(endLabel).width, height - 6);
  // At most one point per pixel column: the chart is redrawn every display frame while a guest runs,
  // and stroking thousands of sub-pixel segments per order costs the page's thread for nothing.
  const points = Math.min(n, Math.max(2, Math.ceil(right - left)));
  const orders = samples.maxOrder + 1;
  // Every order's index of a sample in one pass over its row (unusableFreeIndexRow), not one per order.
  const xs = new Float64Array(points);
  const indices = new Float64Array(points * orders);
  const row = new Float64Array(orders);
  for (let k = 0; k < points; k++) {
    const i = points === n ? k : Math.round((k * (n - 1)) / (points - 1));
    xs[k] = xOf(samples.seq[i]!);
    unusableFreeIndexRow(samples.freeBlocks[i]![zoneIndex]!, row);
    for (let order = 0; order < orders; order++) indices[order * points + k] = row[order]!;
  }
  for (let order = 0; order < orders; order++) {
    ctx.strokeStyle = cssColour(FREE_BY_ORDER[order]!);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    const keep = polylineKeep(indices, order * points, points);
    for (let j = 0; j < keep.length; j++) {
      const k = keep[j]!;
      const y = bottom - (indices[order * points + k]! / 1000) * (bottom - top);
      if (j === 0) ctx.moveTo(xs[k]!, y);
      else ctx.lineTo(xs[k]!, y);
    }
    ctx.stroke();
  }
  if (cursorSeq >= 0) {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(Math.round(xOf(cursorSeq)), top, 1, bottom - top);
  }
}

/**
 * The points of a polyline (heights ys[from .. from + count)) that drawing it needs: the first and
 * the last, and around each change of height the points on either side. Every point left out lies
 * on a level segment between two kept neighbours of its height, so the line through the kept points
 * is the same line, drawn with a canvas call per change instead of per point. An index often holds
 * still for most of a run (a churning guest leaves the buddy lists as they were), and the page
 * redraws the chart every display frame. Returns indices into the polyline (0 .. count - 1).
 */
export function polylineKeep(ys: ArrayLike<number>, from: number, count: number): number[] {
  const keep: number[] = [];
  for (let k = 0; k < count; k++) {
    const y = ys[from + k]!;
    if (k === 0 || k === count - 1 || y !== ys[from + k - 1] || y !== ys[from + k + 1]) keep.push(k);
  }
  return keep;
}
