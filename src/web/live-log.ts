// The event log while the guest runs: its newest lines drawn on a canvas, every display frame.
//
// A running guest changes every line of the log every frame. As DOM text, each change costs
// Chromium a style recalc, a layout, a paint and a commit of the page, and any DOM change at all
// in a frame costs that whole pipeline (docs/web-speed.md): on a two-core machine the renderer
// then takes CPU from the guest's worker. Drawn with fillText, a frame's new lines cost the canvas
// alone. The lines look as the DOM list draws them: font, line height and colour per kind are read
// from the list's own CSS (style.css .ev-KIND), once per kind. A click on a line pins its frame, as
// on the list (pfnAt). When the run pauses or ends, the page shows the DOM list again
// (EventLogView), to scroll back through and select.

import type { EventLine } from "./worker-protocol.js";

/** How a kind's DOM line is drawn: its CSS font and colour, and its metrics in CSS pixels. */
interface KindStyle {
  font: string;
  colour: string;
  lineHeight: number;
  /** One character's width in this (monospace) font. */
  charWidth: number;
}

export class LiveLogCanvas {
  private readonly styles = new Map<string, KindStyle>();
  private context: CanvasRenderingContext2D | null = null;
  private lineHeight = 15;
  private width = 0;
  private height = 0;
  private ratio = 0;
  /** The total and line count drawn last (-1: nothing drawn since it was sized). */
  private drawnTotal = -1;
  private drawnLines = -1;
  /** The frame each drawn line names, bottom line first (-1: none, a MARK say); `shown` of them. */
  private readonly drawnPfns: number[] = [];
  private shown = 0;

  /**
   * `canvas` takes the list's place while a run moves; `list` is the DOM list (#events), whose
   * styles the lines copy.
   */
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly list: HTMLElement,
  ) {
    // A window resized, zoomed or moved to another screen while it shows: its pixels follow its box
    // again (the next render redraws). Its device-pixel box changes with the pixel ratio too; a
    // browser without that box (WebKit) refuses the option, and then hears of resizes only.
    const observer = new ResizeObserver(() => {
      if (!canvas.hidden && this.context !== null) this.fit();
    });
    try {
      observer.observe(canvas, { box: "device-pixel-content-box" });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      observer.observe(canvas);
    }
  }

  /** Shows the canvas in the list's place (sized to its box), or hides it. */
  show(shown: boolean): void {
    this.canvas.hidden = !shown;
    if (shown) this.fit();
  }

  /**
   * Sizes the canvas's pixels to its box at the device's pixel ratio; nothing when they fit already
   * (a resize of the pixels clears them). Reads layout: call it when the canvas is shown, not every
   * frame.
   */
  fit(): void {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    const pixelWidth = Math.max(1, Math.round(rect.width * ratio));
    const pixelHeight = Math.max(1, Math.round(rect.height * ratio));
    if (this.context !== null && this.canvas.width === pixelWidth && this.canvas.height === pixelHeight && this.ratio === ratio) return;
    this.width = rect.width;
    this.height = rect.height;
    this.ratio = ratio;
    this.canvas.width = pixelWidth;
    this.canvas.height = pixelHeight;
    const context = this.canvas.getContext("2d");
    if (context === null) throw new Error("live event log: no 2D context for its canvas");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.textBaseline = "middle";
    this.context = context;
    this.styles.clear();
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
    this.shown = 0;
    for (let i = lines.length - 1; i >= 0 && y > -this.lineHeight / 2; i--, y -= this.lineHeight) {
      const line = lines[i]!;
      this.drawnPfns[this.shown++] = line.pfn;
      const style = this.styles.get(line.kind) ?? this.styleOf(line.kind);
      // The context's font and colour setters parse their strings: set them only when they change.
      if (style.font !== font) ctx.font = font = style.font;
      if (style.colour !== colour) ctx.fillStyle = colour = style.colour;
      // At the left edge, as the list's lines start.
      ctx.fillText(fitLine(line, Math.floor(this.width / style.charWidth)), 0, y);
    }
  }

  /** The frame named by the line drawn at `y` CSS pixels from the canvas's top, or -1 (none there). */
  pfnAt(y: number): number {
    const fromBottom = Math.floor((this.height - y) / this.lineHeight);
    return fromBottom >= 0 && fromBottom < this.shown ? this.drawnPfns[fromBottom]! : -1;
  }

  /** The style of a kind's DOM line (computed once per kind, from a probe line in the list). */
  private styleOf(kind: string): KindStyle {
    const probe = document.createElement("div");
    probe.className = `ev ev-${kind}`;
    this.list.appendChild(probe);
    const cs = getComputedStyle(probe);
    const fontSize = parseFloat(cs.fontSize);
    const lineHeight = cs.lineHeight === "normal" ? 1.2 * fontSize : parseFloat(cs.lineHeight);
    const font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const colour = cs.color;
    // (A computed style is live: read before the probe leaves the document, it empties after.)
    probe.remove();
    const ctx = this.context!;
    ctx.font = font;
    const style = { font, colour, lineHeight, charWidth: ctx.measureText("0").width };
    this.styles.set(kind, style);
    return style;
  }
}

/**
 * A line cut to `chars` characters: the middle goes (marked "…") and its owner, which ends it, stays
 * whole, so a narrow panel still names who asked; a line that fits is itself.
 */
export function fitLine(line: Pick<EventLine, "text" | "where">, chars: number): string {
  const text = line.text;
  if (text.length <= chars) return text;
  const where = line.where;
  // The owner and at least the event number, its kind and order before it; else the line's start.
  if (where !== "" && text.endsWith(where) && chars - where.length - 2 >= 24) return `${text.slice(0, chars - where.length - 2).trimEnd()}… ${where}`;
  return `${text.slice(0, Math.max(0, chars - 1))}…`;
}
