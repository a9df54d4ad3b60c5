// The map's zone boundary lines never hide a frame (issue 7: one pixel or cell per frame): the real
// MemoryMapView drawn on a recording canvas, every frame allocated, at each RAM size's cell size
// (4 pixels at 128 MiB, 2 at 256 and 512 MiB, 1 at 1 GiB and more). Each frame's cell must show its
// block's colour at the pixel the page's tests read (cellColour), and, where cells are 2 pixels, on
// its whole top pixel row. Before, a 2-pixel bar over each boundary covered 512 frames at
// 256 and 512 MiB and 4,096 at 1 GiB.

import { describe, expect, it } from "vitest";
import { BuddyAllocator, MemoryMap } from "../src/mem/index.js";
import { MemoryMapView } from "../src/web/map-view.js";
import { liveSnapshot } from "../src/web/model.js";
import { COLOURS } from "../src/web/palette.js";

const MiB = 2 ** 20;

/** A 2D context that paints fillRect and putImageData into an RGBA buffer (all the map uses of it). */
function recordingCanvas(): { canvas: HTMLCanvasElement; pixel: (x: number, y: number) => number } {
  let buffer = new Uint8ClampedArray(0);
  let fill = 0;
  const canvas = {
    width: 0,
    height: 0,
    dataset: {} as Record<string, string>,
    getContext: () => ctx,
  };
  const size = (): void => {
    if (buffer.length !== canvas.width * canvas.height * 4) buffer = new Uint8ClampedArray(canvas.width * canvas.height * 4);
  };
  const ctx = {
    set fillStyle(v: string) {
      fill = parseInt(v.slice(1), 16);
    },
    set strokeStyle(_v: string) {},
    lineWidth: 1,
    createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
    putImageData(img: { width: number; data: Uint8ClampedArray }, _dx: number, _dy: number, _x: number, y: number, _w: number, h: number) {
      size();
      buffer.set(img.data.subarray(y * img.width * 4, (y + h) * img.width * 4), y * img.width * 4);
    },
    fillRect(x: number, y: number, w: number, h: number) {
      size();
      for (let yy = Math.max(0, y); yy < Math.min(canvas.height, y + h); yy++)
        for (let xx = Math.max(0, x); xx < Math.min(canvas.width, x + w); xx++) {
          const p = (yy * canvas.width + xx) * 4;
          buffer[p] = fill >> 16;
          buffer[p + 1] = (fill >> 8) & 255;
          buffer[p + 2] = fill & 255;
        }
    },
    strokeRect() {},
  };
  const pixel = (x: number, y: number): number => {
    const p = (y * canvas.width + x) * 4;
    return (buffer[p]! << 16) | (buffer[p + 1]! << 8) | buffer[p + 2]!;
  };
  return { canvas: canvas as unknown as HTMLCanvasElement, pixel };
}

describe("the map's zone lines", () => {
  for (const [ram, cell] of [
    [128 * MiB, 4],
    [256 * MiB, 2],
    [512 * MiB, 2],
    [1024 * MiB, 1],
  ] as const) {
    it(`hide no frame at ${ram / MiB} MiB (${cell}-pixel cells)`, () => {
      const map = new MemoryMap();
      map.addUsable(0x100000, ram - 0x100000);
      const buddy = new BuddyAllocator(map, { pcp: false, maxOrder: 0 });
      while (buddy.allocPages(0) !== 0);
      const snap = liveSnapshot(buddy, map, ram);
      const { canvas, pixel } = recordingCanvas();
      const view = new MemoryMapView(canvas);
      view.render(snap, "state", null, null);
      expect(view.layout.cell).toBe(cell);
      const { columns } = view.layout;
      const line = COLOURS.zoneLine;
      const covered: string[] = [];
      for (let pfn = 0x100; pfn < ram / 4096 && covered.length < 5; pfn++) {
        const x = (pfn % columns) * cell;
        const y = Math.floor(pfn / columns) * cell;
        // The pixel the page's tests read (web-harness cellColour), and with 2-pixel cells the whole
        // top row, which is the frame's own.
        const read = pixel(x + ((cell - 1) >> 1), y + ((cell - 1) >> 1));
        const own = cell === 2 ? [read, pixel(x + 1, y)] : [read];
        if (own.some((c) => c === line)) covered.push(`pfn 0x${pfn.toString(16)}`);
      }
      expect(covered).toEqual([]);
      // The boundary at 16 MiB is still drawn where it hides nothing (not at one pixel per frame).
      const y16 = (4096 / columns) * cell;
      if (cell > 1) expect(pixel(10, y16 - 1)).toBe(line);
    });
  }
});
