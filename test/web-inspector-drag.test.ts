// The map's drag to zoom (src/web/inspector.ts FrameInspector.wireMap), without a browser: a drag
// of a row or more zooms; a shorter one is a click that pins; a release on no frame (the blank tail
// of a zoomed map's last row) does neither; and the zoom label says "zoom to ..." only while the
// drag lasts, then what it said before.

import { describe, expect, it } from "vitest";
import { FrameInspector } from "../src/web/inspector.js";
import { layoutFor, type MemoryMapView } from "../src/web/map-view.js";

type Handler = (e: { clientX: number; clientY: number }) => void;

/** A map zoomed to [0x100, 0x1f0): its last row is only partly frames. */
function wired() {
  const handlers: Record<string, Handler> = {};
  const layout = layoutFor(0x100, 0x1f0);
  const map = {
    canvas: { addEventListener: (name: string, f: Handler) => (handlers[name] = f) },
    layout,
    pfnAt: (x: number, y: number) => {
      const pfn = layout.startPfn + Math.floor(y / layout.cell) * layout.columns + Math.floor(x / layout.cell);
      return pfn < layout.endPfn ? pfn : -1;
    },
  } as unknown as MemoryMapView;
  const label = { textContent: "0x00100000..0x001f0000" } as HTMLElement;
  const zooms: [number, number][] = [];
  const inspector = new FrameInspector({} as HTMLElement, () => {});
  inspector.wireMap(map, label, (range) => zooms.push(range));
  const at = (col: number, row: number) => ({ clientX: col * layout.cell + 1, clientY: row * layout.cell + 1 });
  return { handlers, layout, label, zooms, inspector, at };
}

describe("dragging across the map", () => {
  it("zooms to the frames a drag of a row or more spans", () => {
    const { handlers, label, zooms, at } = wired();
    handlers.mousedown!(at(0, 0));
    handlers.mousemove!(at(3, 2));
    expect(label.textContent).toMatch(/^zoom to /);
    handlers.mouseup!(at(3, 2));
    expect(zooms).toHaveLength(1);
  });

  it("pins a frame on a shorter drag, and puts the label back", () => {
    const { handlers, label, zooms, inspector, at } = wired();
    handlers.mousedown!(at(1, 0));
    handlers.mousemove!(at(2, 0));
    expect(label.textContent).toMatch(/^zoom to /);
    handlers.mouseup!(at(2, 0));
    expect(zooms).toEqual([]);
    expect(inspector.pfn).toBe(0x102);
    expect(label.textContent).toBe("0x00100000..0x001f0000");
  });

  it("does nothing on a release past the last frame, and puts the label back", () => {
    const { handlers, layout, label, zooms, at } = wired();
    const lastRow = layout.rows - 1;
    handlers.mousedown!(at(0, 0));
    handlers.mousemove!(at(2, lastRow));
    expect(label.textContent).toMatch(/^zoom to /);
    handlers.mouseup!(at(layout.columns - 1, lastRow));
    expect(zooms).toEqual([]);
    expect(label.textContent).toBe("0x00100000..0x001f0000");
  });
});
