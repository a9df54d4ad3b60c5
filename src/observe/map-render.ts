// The --map picture: guest physical memory as a grid, 256 cells a row, each cell one frame up to 32768
// frames (128 MiB) and 2^k frames beyond (2 GiB: 16 frames a cell), coloured by state: free by block
// order (light to dark blue), on the per-CPU lists (teal), allocated by owner function (one colour per
// top owner), reserved by label (browns), holes (light grey). An aggregated cell takes the state of most
// of its frames. Zone boundaries are drawn as lines with the zone's name; a legend gives every colour
// its frame count. Pure string building: one pass over the frames, one <rect> per run of equal cells.

import { FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_PCP, PAGE_SIZE, ZONE_END_PFN, ZONE_NAMES } from "../mem/index.js";
import { orderOf, stateOf, type AllocatorSnapshot } from "./snapshot.js";

export const MAP_COLUMNS = 256;
export const MAP_MAX_CELLS = 32768;
const CELL_PX = 4;
const LEFT = 200;
/** Zone names sit in their own column, left of the address labels. */
const ZONE_LABEL_X = LEFT - 92;
const TOP = 56;
const LEGEND_W = 330;
const OWNER_COLORS = ["#e41a1c", "#ff7f00", "#984ea3", "#f781bf", "#a65628", "#e7298a", "#d95f02", "#b2182b", "#ffd92f", "#66a61e", "#7570b3", "#c51b7d"];
const RESERVED_COLORS = ["#8d6e63", "#6d4c41", "#a1887f", "#4e342e", "#bcaaa4", "#795548"];

/** An allocated block and the function that owns it. */
export interface OwnedBlock {
  pfn: number;
  npages: number;
  owner: string;
}

export interface MapCategory {
  name: string;
  color: string;
  frames: number;
}

export interface MapModel {
  title: string;
  columns: number;
  rows: number;
  framesPerCell: number;
  /** Category index per cell. */
  cells: Uint16Array;
  categories: MapCategory[];
  /** First pfn of each zone after the first, with its name. */
  zoneStarts: { pfn: number; name: string }[];
  ramPfns: number;
}

function blend(a: number[], b: number[], t: number): string {
  return "#" + a.map((x, i) => Math.round(x + (b[i]! - x) * t).toString(16).padStart(2, "0")).join("");
}

/** Builds the grid: one pass over the frames. `blocks` (may be empty) gives allocated frames their owner. */
export function buildMapModel(snap: AllocatorSnapshot, blocks: readonly OwnedBlock[], title: string): MapModel {
  const ramPfns = snap.ramPfns;
  let framesPerCell = 1;
  while (Math.ceil(ramPfns / framesPerCell) > MAP_MAX_CELLS) framesPerCell *= 2;
  const cellCount = Math.ceil(ramPfns / framesPerCell);
  const rows = Math.ceil(cellCount / MAP_COLUMNS);

  // Categories: hole, unmanaged, reserved labels, free orders, per-CPU, allocated, owners, other owners.
  const cats: MapCategory[] = [];
  const add = (name: string, color: string): number => cats.push({ name, color, frames: 0 }) - 1;
  const HOLE = add("hole (not RAM)", "#eeeeee");
  const UNMANAGED = add("RAM not managed", "#9e9e9e");
  const labels = [...new Set(snap.reserved.map((r) => r.label))];
  const reservedCat = new Map(labels.map((l, i) => [l, add(`reserved: ${l}`, RESERVED_COLORS[i % RESERVED_COLORS.length]!)]));
  const FREE0 = cats.length;
  for (let o = 0; o <= snap.maxOrder; o++) add(`free, order ${o}`, blend([0xde, 0xeb, 0xf7], [0x08, 0x30, 0x6b], snap.maxOrder === 0 ? 1 : o / snap.maxOrder));
  const PCP = add("free, per-CPU lists", "#41b6c4");
  const ALLOC = add(blocks.length > 0 ? "allocated (owner unknown)" : "allocated", "#e6550d");
  const ownerFrames = new Map<string, number>();
  for (const b of blocks) ownerFrames.set(b.owner, (ownerFrames.get(b.owner) ?? 0) + b.npages);
  const topOwners = [...ownerFrames.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, OWNER_COLORS.length);
  const ownerCat = new Map(topOwners.map(([name], i) => [name, add(`allocated by ${name}`, OWNER_COLORS[i]!)]));
  const OTHER = add("allocated by other functions", "#fdae6b");

  // Owner category per managed frame index.
  const frameOwner = new Int16Array(snap.meta.length).fill(-1);
  for (const b of blocks) {
    const idx = b.pfn - snap.basePfn;
    frameOwner.fill(ownerCat.get(b.owner) ?? OTHER, Math.max(0, idx), Math.min(snap.meta.length, idx + b.npages));
  }
  const reserved = [...snap.reserved].sort((a, b) => a.startPfn - b.startPfn);

  const cells = new Uint16Array(cellCount);
  const counts = new Int32Array(cats.length);
  let runCat = HOLE;
  let runLeft = 0;
  let r = 0;
  for (let cell = 0; cell < cellCount; cell++) {
    counts.fill(0);
    const end = Math.min(ramPfns, (cell + 1) * framesPerCell);
    for (let pfn = cell * framesPerCell; pfn < end; pfn++) {
      const idx = pfn - snap.basePfn;
      let cat: number;
      const m = idx >= 0 && idx < snap.meta.length ? snap.meta[idx]! : 0;
      const st = stateOf(m);
      if (st === FRAME_FREE || st === FRAME_PCP || st === FRAME_ALLOC) {
        runLeft = 2 ** orderOf(m);
        runCat = st === FRAME_FREE ? FREE0 + orderOf(m) : st === FRAME_PCP ? PCP : ALLOC;
      } else if (st === FRAME_CONTIG_HEAD || st === FRAME_CONTIG_TAIL) {
        runLeft = 1;
        runCat = ALLOC;
      }
      if (m === 0) {
        while (r < reserved.length && reserved[r]!.endPfn <= pfn) r++;
        let label: string | undefined;
        for (let k = r; k < reserved.length && reserved[k]!.startPfn <= pfn; k++) {
          if (reserved[k]!.endPfn > pfn) {
            label = reserved[k]!.label;
            break;
          }
        }
        cat = label !== undefined ? reservedCat.get(label)! : pfn < ramPfns ? UNMANAGED : HOLE;
        runLeft = 0;
      } else if (runLeft > 0) {
        cat = runCat === ALLOC && frameOwner[idx]! >= 0 ? frameOwner[idx]! : runCat;
        runLeft--;
      } else cat = UNMANAGED;
      counts[cat]!++;
      cats[cat]!.frames++;
    }
    let best = 0;
    for (let c = 1; c < counts.length; c++) if (counts[c]! > counts[best]!) best = c;
    cells[cell] = best;
  }
  const zoneStarts: { pfn: number; name: string }[] = [];
  for (let z = 1; z < ZONE_NAMES.length; z++) {
    const pfn = ZONE_END_PFN[z - 1]!;
    if (pfn < ramPfns && snap.zoneManaged[z]! > 0) zoneStarts.push({ pfn, name: ZONE_NAMES[z]! });
  }
  return { title, columns: MAP_COLUMNS, rows, framesPerCell, cells, categories: cats, zoneStarts, ramPfns };
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function sizeText(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${+(bytes / 2 ** 20).toFixed(2)} MiB`;
  return `${+(bytes / 1024).toFixed(1)} KiB`;
}

/** The SVG document of a map model. */
export function renderMapSvg(model: MapModel): string {
  const gridW = model.columns * CELL_PX;
  const gridH = model.rows * CELL_PX;
  const shown = model.categories.map((c, i) => ({ c, i })).filter(({ c }) => c.frames > 0);
  const legendH = 30 + shown.length * 18;
  const width = LEFT + gridW + 24 + LEGEND_W;
  const height = Math.max(TOP + gridH + 40, TOP + legendH);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="22" font-size="16" font-weight="bold">${esc(model.title)}</text>`);
  const rowBytes = model.columns * model.framesPerCell * PAGE_SIZE;
  out.push(`<text x="${LEFT}" y="42" fill="#444">${esc(`${sizeText(model.ramPfns * PAGE_SIZE)} of RAM; ${model.framesPerCell} frame${model.framesPerCell > 1 ? "s" : ""} (${sizeText(model.framesPerCell * PAGE_SIZE)}) per cell, ${sizeText(rowBytes)} per row; a cell shows the state of most of its frames`)}</text>`);
  out.push(`<g shape-rendering="crispEdges">`);
  for (let row = 0; row < model.rows; row++) {
    const base = row * model.columns;
    const end = Math.min(model.cells.length, base + model.columns);
    for (let i = base; i < end; ) {
      const cat = model.cells[i]!;
      let j = i + 1;
      while (j < end && model.cells[j] === cat) j++;
      out.push(`<rect x="${LEFT + (i - base) * CELL_PX}" y="${TOP + row * CELL_PX}" width="${(j - i) * CELL_PX}" height="${CELL_PX}" fill="${model.categories[cat]!.color}"/>`);
      i = j;
    }
  }
  out.push(`</g>`);
  // Address labels every 16 rows (and the last row).
  for (let row = 0; row < model.rows; row += 16) {
    const addr = row * rowBytes;
    out.push(`<text x="${LEFT - 6}" y="${TOP + row * CELL_PX + 10}" text-anchor="end" fill="#444">0x${addr.toString(16).padStart(8, "0")}</text>`);
  }
  // Zone boundaries: a line along the first frame of each zone; names stacked when rows are close.
  let labelY = TOP + 8;
  out.push(`<text x="${ZONE_LABEL_X}" y="${labelY}" text-anchor="end" font-weight="bold">${esc(ZONE_NAMES[0]!)} →</text>`);
  for (const z of model.zoneStarts) {
    const cell = Math.floor(z.pfn / model.framesPerCell);
    const row = Math.floor(cell / model.columns);
    const col = cell % model.columns;
    const y0 = TOP + row * CELL_PX;
    const x = LEFT + col * CELL_PX;
    const d = col === 0 ? `M${ZONE_LABEL_X + 2},${y0} H${LEFT + gridW}` : `M${x},${y0} H${LEFT + gridW} M${x},${y0} V${y0 + CELL_PX} H${ZONE_LABEL_X + 2}`;
    out.push(`<path d="${d}" stroke="#000" stroke-width="2" fill="none"/>`);
    labelY = Math.max(y0 + 8, labelY + 14);
    out.push(`<text x="${ZONE_LABEL_X}" y="${labelY}" text-anchor="end" font-weight="bold">${esc(z.name)} →</text>`);
  }
  out.push(`<rect x="${LEFT}" y="${TOP}" width="${gridW}" height="${gridH}" fill="none" stroke="#333" stroke-width="1"/>`);
  const lx = LEFT + gridW + 24;
  out.push(`<text x="${lx}" y="${TOP + 10}" font-weight="bold">Legend (frames)</text>`);
  shown.forEach(({ c }, k) => {
    const y = TOP + 24 + k * 18;
    out.push(`<rect x="${lx}" y="${y}" width="14" height="14" fill="${c.color}" stroke="#333" stroke-width="0.5"/>`);
    out.push(`<text x="${lx + 20}" y="${y + 11}">${esc(`${c.name}: ${c.frames}`)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
