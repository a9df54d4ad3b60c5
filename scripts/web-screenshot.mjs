// Makes docs/web-screenshot.png: the page in headless Chromium with the bundled guest's demo paused
// in the middle of its fill phase (at "phase:fill", then 12000 calls further: order-0 pages taken
// from the top of Normal downwards), colours by block order, one allocated frame pinned in the
// inspector. `node scripts/web-screenshot.mjs [out.png]`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./build-web.mjs";
import { launchChromium, serveStatic } from "./serve-web.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(process.argv[2] ?? join(ROOT, "docs/web-screenshot.png"));

const tmp = mkdtempSync(join(tmpdir(), "buddy86-shot-"));
try {
  await buildWeb({ outdir: join(tmp, "site"), sourcemap: false });
  const server = await serveStatic(join(tmp, "site"), 0);
  const context = await launchChromium(join(tmp, "profile"), { height: 1180 });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(server.url);
    await page.selectOption("#workload", "demo");
    await page.fill("#ops", "1000");
    await page.fill("#seed", "3");
    await page.fill("#pause-at-mark", "phase:fill");
    await page.click("#run");
    await page.waitForFunction(() => window.buddy86.state === "paused", null, { timeout: 120_000 });
    await page.fill("#step-n", "12000");
    await page.click("#step");
    await page.waitForFunction(() => window.buddy86.state === "paused" && window.buddy86.calls > 12000, null, { timeout: 120_000 });
    // Pin a frame of the largest allocated block in view: find one by the inspector's answer.
    const box = await page.locator("#map").boundingBox();
    for (let i = 0; i < 400; i++) {
      const x = box.x + 40 + ((i * 97) % Math.floor(box.width - 80));
      const y = box.y + 30 + Math.floor((i * 53) % Math.floor(box.height - 60));
      await page.mouse.move(x, y);
      await page.waitForTimeout(30);
      const kind = await page.getAttribute("#inspector", "data-kind");
      const text = (await page.textContent("#inspector")) ?? "";
      if (kind === "alloc" && text.includes("owner:")) {
        await page.mouse.click(x, y);
        break;
      }
    }
    await page.waitForFunction(() => document.getElementById("inspector").textContent.includes("history"), null, { timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await context.close();
    await server.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
