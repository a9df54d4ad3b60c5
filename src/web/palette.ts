// The page's colours: one 0xRRGGBB per frame kind, in three modes - "order" (free blocks cool, by
// order; allocated blocks warm, by order), "state" (one colour per state) and "owner" (allocated
// blocks by the guest function that asked for them). The web tests read the same table, so "the
// allocated colour" means one thing everywhere.

import { FRAME_ALLOC, FRAME_CONTIG_HEAD, FRAME_CONTIG_TAIL, FRAME_FREE, FRAME_PCP } from "../mem/index.js";

export type ColourMode = "order" | "state" | "owner";
export const COLOUR_MODES: readonly ColourMode[] = ["order", "state", "owner"];

/** Fixed colours (0xRRGGBB). */
export const COLOURS = {
  /** The canvas behind the cells (and the 1-pixel grid between them). */
  background: 0x14161a,
  /** RAM the allocator does not manage: frame 0, the VGA hole, the kernel, the multiboot data. */
  reserved: 0x5c6370,
  /** Frames that are not RAM at all (past the last frame of the map). */
  hole: 0x262a31,
  /** state mode: a free block on a buddy list. */
  free: 0x3fa36b,
  /** state mode: a block handed out by ALLOC_PAGES. */
  allocated: 0xef8a3c,
  /** A free block on a per-CPU list (free for the guest, taken as the buddy lists see it). */
  pcp: 0xa97bd6,
  /** An ALLOC_CONTIG range. */
  contig: 0xe2457f,
  /** owner mode: free blocks, dimmed so owners stand out. */
  ownerFree: 0x2d4a43,
  /** Zone boundaries (solid lines). */
  zoneLine: 0xf5f7fa,
  /** The inspected block's outline (dashed): another colour than the zone lines it could be taken for. */
  selection: 0x22d3ee,
} as const;

/** Orders 0..MAX_MAX_ORDER get their own shade. */
const ORDER_SHADES = 19;

function hsl(h: number, s: number, l: number): number {
  // Standard HSL to RGB, h in degrees, s and l in 0..1.
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return (f(0) << 16) | (f(8) << 8) | f(4);
}

/** order mode, free blocks: light teal (order 0) to deep blue (order 10 and above). */
export const FREE_BY_ORDER: readonly number[] = Array.from({ length: ORDER_SHADES }, (_, o) => {
  const t = Math.min(o, 10) / 10;
  return hsl(165 + 60 * t, 0.55, 0.62 - 0.3 * t);
});

/** order mode, allocated blocks: yellow (order 0) to deep red (order 10 and above). */
export const ALLOC_BY_ORDER: readonly number[] = Array.from({ length: ORDER_SHADES }, (_, o) => {
  const t = Math.min(o, 10) / 10;
  return hsl(48 - 45 * t, 0.85, 0.6 - 0.18 * t);
});

/**
 * The colour of a managed frame from its block's state and order (frames of one block share it).
 * Owner mode colours allocated blocks elsewhere (ownerColour); here it gives their state colour.
 */
export function stateColour(mode: ColourMode, state: number, order: number): number {
  switch (state) {
    case FRAME_FREE:
      return mode === "order" ? FREE_BY_ORDER[order]! : mode === "owner" ? COLOURS.ownerFree : COLOURS.free;
    case FRAME_PCP:
      return COLOURS.pcp;
    case FRAME_ALLOC:
      return mode === "order" ? ALLOC_BY_ORDER[order]! : COLOURS.allocated;
    case FRAME_CONTIG_HEAD:
    case FRAME_CONTIG_TAIL:
      return COLOURS.contig;
    default:
      return COLOURS.reserved;
  }
}

/** A stable, well-spread colour for an owner name (hue from a string hash, never grey). */
export function ownerColour(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  const hue = ((h >>> 0) % 360 + 360) % 360;
  return hsl(hue, 0.7, 0.58);
}

/** The first frame of each block is drawn a little darker, so neighbouring blocks stay apart. */
export function headShade(rgb: number): number {
  const r = (rgb >> 16) & 255;
  const g = (rgb >> 8) & 255;
  const b = rgb & 255;
  return (Math.round(r * 0.78) << 16) | (Math.round(g * 0.78) << 8) | Math.round(b * 0.78);
}

/** 0xRRGGBB as the Uint32 an ImageData's little-endian RGBA bytes hold (0xAABBGGRR). */
export function toPixel(rgb: number): number {
  return (0xff000000 | ((rgb & 255) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 255)) >>> 0;
}

export function cssColour(rgb: number): string {
  return "#" + rgb.toString(16).padStart(6, "0");
}
