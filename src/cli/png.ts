// SVG to PNG for --map/--frag FILE.png and `buddy86 report`, with resvg (@resvg/resvg-js: a Rust
// renderer shipped prebuilt inside its npm package). Node only; the SVG renderers stay pure.

import { Resvg } from "@resvg/resvg-js";

/** Renders an SVG document to PNG bytes, with the system's fonts (DejaVu Sans on Debian). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" }, background: "#ffffff" }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
