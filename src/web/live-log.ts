// The event log while the guest runs: its newest lines drawn on a canvas, every display frame.
//
// A running guest changes every line of the log every frame. As DOM text, each change costs
// Chromium a style recalc, a layout, a paint and a commit of the page, and any DOM change at all
// in a frame costs that whole pipeline (docs/web.md, Speed): on a two-core machine the renderer
// then takes CPU from the guest's worker. Drawn with fillText, a frame's new lines cost the canvas
// alone. The lines look as the DOM list draws them: font, line height and colour per kind are read
// from the list's own CSS (style.css .ev-KIND), once per kind. When the run pauses or ends, the
// page shows the DOM list again (EventLogView), to scroll back through and select.

import type { EventLine } from "./worker-protocol.js";

interface KindStyle {
  font: string;
  colour: string;
}

/** Pixels between the canvas's left edge and the text (the DOM lines start at the panel's edge). */
const LEFT = 0;

export class LiveLogCanvas {
  private readonly styles = new Map<string, KindStyle>();
  private context: CanvasRenderingContext2D | null = null;
  private lineHeight = 15;
  private width = 0;
  private height = 0;
  /** The total and line count drawn last (-1: nothing drawn since it was sized). */
  private drawnTotal = -1;
  private drawnLines = -1;

  /**
   * `canvas` takes the list's place while a run moves; `list` is the DOM list (#events), whose
   * styles the lines copy.
   */
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly list: HTMLElement,
  ) {
    // A window resized while it shows: its pixels follow its box again (the next render redraws).
    new ResizeObserver(() => {
      if (!canvas.hidden && this.context !== null) this.fit();
    }).observe(canvas);
  }

  /**
   * Sizes the canvas's pixels to its box at the device's pixel ratio. Reads layout: call it when
   * the canvas is shown, not every frame.
   */
  fit(): void {
    const ratio = window.devicePixelRatio || 1;
    this.width = this.canvas.clientWidth;
    this.height = this.canvas.clientHeight;
    this.canvas.width = Math.max(1, Math.round(this.width * ratio));
    this.canvas.height = Math.max(1, Math.round(this.height * ratio));
    const context = this.canvas.getContext("2d");
    if (context === null) throw new Error("live event log: no 2D context for its canvas");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.textBaseline = "middle";
    this.context = context;
    this.lineHeight = this.styleOf("alloc").lineHeight;
    this.drawnTotal = -1;
  }

  /** Draws `lines` (oldest first) newest at the bottom, as the DOM list shows them; skips an unchanged log. */
  render(total: number, lines: readonly EventLine[]): void {
    if (total === this.drawnTotal && lines.length === this.drawnLines) return;
    const ctx = this.context;
    if (ctx === null) throw new Error("live event log: render before fit");
    this.drawnTotal = total;
    this.drawnLines = lines.length;
    ctx.clearRect(0, 0, this.width, this.height);
    let font = "";
    let colour = "";
    let y = this.height - this.lineHeight / 2;
    for (let i = lines.length - 1; i >= 0 && y > -this.lineHeight / 2; i--, y -= this.lineHeight) {
      const line = lines[i]!;
      const style = this.styles.get(line.kind) ?? this.styleOf(line.kind);
      // The context's font and colour setters parse their strings: set them only when they change.
      if (style.font !== font) ctx.font = font = style.font;
      if (style.colour !== colour) ctx.fillStyle = colour = style.colour;
      ctx.fillText(line.text, LEFT, y);
    }
  }

  /** The style of a kind's DOM line (computed once per kind, from a probe line in the list). */
  private styleOf(kind: string): KindStyle & { lineHeight: number } {
    const probe = document.createElement("div");
    probe.className = `ev ev-${kind}`;
    this.list.appendChild(probe);
    const cs = getComputedStyle(probe);
    const fontSize = parseFloat(cs.fontSize);
    const lineHeight = cs.lineHeight === "normal" ? 1.2 * fontSize : parseFloat(cs.lineHeight);
    const style = { font: `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`, colour: cs.color, lineHeight };
    probe.remove();
    this.styles.set(kind, style);
    return style;
  }
}
