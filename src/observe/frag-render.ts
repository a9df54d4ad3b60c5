// The --frag picture: Linux's unusable free space index (extfrag/unusable_index) per order over the
// run, one panel per zone, hypercalls on the x axis, 0 (every free frame is usable for the order) to 1
// (none is) on the y axis, one line per order from light (order 0) to dark (max order), MARKs as
// dashed lines. Drawn from the timeline's samples (timeline.ts), live or read back from a trace.

import { ZONE_NAMES, unusableFreeIndex } from "../mem/index.js";
import type { TimelineData } from "./timeline.js";

const PANEL_W = 900;
const PANEL_H = 220;
const LEFT = 70;
const TOP = 50;
const GAP = 60;
const LEGEND_W = 130;

function orderColor(order: number, maxOrder: number): string {
  // A viridis-like ramp: yellow-green for small orders to deep purple for large ones.
  const stops = [
    [0xfd, 0xe7, 0x25],
    [0x5e, 0xc9, 0x62],
    [0x21, 0x91, 0x8c],
    [0x3b, 0x52, 0x8b],
    [0x44, 0x01, 0x54],
  ];
  const t = maxOrder === 0 ? 1 : order / maxOrder;
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return "#" + stops[i]!.map((a, k) => Math.round(a + (stops[i + 1]![k]! - a) * f).toString(16).padStart(2, "0")).join("");
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** "Nice" tick positions covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = Math.max(1, hi - lo);
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

/** The SVG document: one panel per zone of the timeline. */
export function renderFragSvg(t: TimelineData, marks: readonly { seq: number; label: string }[], title: string): string {
  const n = t.seq.length;
  const x0 = n > 0 ? t.seq[0]! : 0;
  const x1 = n > 1 ? t.seq[n - 1]! : x0 + 1;
  const panels = t.zones.length;
  const width = LEFT + PANEL_W + 30 + LEGEND_W;
  const height = TOP + Math.max(1, panels) * (PANEL_H + GAP) + 10;
  const sx = (seq: number): number => LEFT + ((seq - x0) / Math.max(1, x1 - x0)) * PANEL_W;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${LEFT}" y="40" fill="#444">unusable free space index per order (extfrag/unusable_index), ${n} samples; x: hypercalls</text>`);
  t.zones.forEach((zone, k) => {
    const top = TOP + k * (PANEL_H + GAP) + 10;
    const sy = (v: number): number => top + (1 - v) * PANEL_H;
    out.push(`<text x="${LEFT}" y="${top - 6}" font-weight="bold">zone ${esc(ZONE_NAMES[zone] ?? String(zone))}</text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${PANEL_W}" height="${PANEL_H}" fill="#fafafa" stroke="#333"/>`);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      out.push(`<line x1="${LEFT}" x2="${LEFT + PANEL_W}" y1="${sy(v)}" y2="${sy(v)}" stroke="#ddd"/>`);
      out.push(`<text x="${LEFT - 6}" y="${sy(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
    }
    for (const v of ticks(x0, x1, 8)) {
      out.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#333"/>`);
      out.push(`<text x="${sx(v)}" y="${top + PANEL_H + 16}" text-anchor="middle">${v}</text>`);
    }
    // Labels of MARKs close together go on successive lines instead of over each other.
    let lastX = -Infinity;
    let level = 0;
    for (const m of marks) {
      if (m.seq < x0 || m.seq > x1) continue;
      const x = sx(m.seq);
      level = x - lastX < 110 ? (level + 1) % 8 : 0;
      lastX = x;
      out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + PANEL_H}" stroke="#888" stroke-dasharray="4 3"/>`);
      const anchor = x > LEFT + PANEL_W - 100 ? ` text-anchor="end"` : "";
      out.push(`<text x="${anchor === "" ? x + 3 : x - 3}" y="${top + 12 + 11 * level}" fill="#555" font-size="10"${anchor}>${esc(m.label)}</text>`);
    }
    for (let order = 0; order <= t.maxOrder; order++) {
      const pts: string[] = [];
      for (let r = 0; r < n; r++) {
        const v = unusableFreeIndex(t.freeBlocks[r]![k]!, order) / 1000;
        pts.push(`${sx(t.seq[r]!).toFixed(1)},${sy(v).toFixed(1)}`);
      }
      if (pts.length > 0) out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${orderColor(order, t.maxOrder)}" stroke-width="1.5"/>`);
    }
  });
  const lx = LEFT + PANEL_W + 30;
  out.push(`<text x="${lx}" y="${TOP + 20}" font-weight="bold">order</text>`);
  for (let order = 0; order <= t.maxOrder; order++) {
    const y = TOP + 30 + order * 18;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${y}" y2="${y}" stroke="${orderColor(order, t.maxOrder)}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${y + 4}">${order} (${4 << order} KiB)</text>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
