// The web page's static site (scripts/build-web.mjs, also `npm run build` into dist/web/) and its
// server (scripts/serve-web.mjs, `npm run web`): every file the page needs is in the folder, the page
// names nothing outside it (and forbids it with a CSP), the page's own bundle does not carry the
// emulator (the guest's worker does), and the server answers with the right types and never serves
// a file outside its folder.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WEB_KERNELS, buildWeb } from "../scripts/build-web.mjs";
import { serveStatic } from "../scripts/serve-web.mjs";

let dir: string;
let files: Record<string, number>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "buddy86-web-build-"));
  ({ files } = await buildWeb({ outdir: dir, sourcemap: false }));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the web page's static site", () => {
  test("holds the page, its two bundles, v86.wasm and the kernel images", () => {
    for (const f of ["index.html", "style.css", "page.js", "worker.js", "v86.wasm", ...WEB_KERNELS.map((k: string) => `images/${k}`)]) {
      expect(files[f], f).toBeGreaterThan(0);
    }
    expect(readFileSync(join(dir, "v86.wasm")).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  });

  test("index.html loads only files of the folder, under a same-origin CSP", () => {
    const html = readFileSync(join(dir, "index.html"), "utf8");
    const refs = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.sort()).toEqual(["data:,", "page.js", "style.css"]);
    expect(html).toContain(`content="default-src 'self';`);
    expect(html).not.toMatch(/https?:\/\//);
  });

  test("the page's bundle leaves the emulator to the worker", () => {
    const page = readFileSync(join(dir, "page.js"), "utf8");
    const worker = readFileSync(join(dir, "worker.js"), "utf8");
    expect(worker).toContain("emulator-loaded");
    expect(page).not.toContain("emulator-loaded");
    expect(files["page.js"]!).toBeLessThan(files["worker.js"]! / 4);
  });

  test("the server gives each file its type and nothing outside the folder", async () => {
    const server = (await serveStatic(dir, 0)) as { url: string; close(): Promise<void> };
    try {
      const get = (path: string): Promise<Response> => fetch(new URL(path, server.url));
      expect((await get("/")).headers.get("content-type")).toMatch(/^text\/html/);
      expect((await get("/page.js")).headers.get("content-type")).toMatch(/^text\/javascript/);
      expect((await get("/v86.wasm")).headers.get("content-type")).toBe("application/wasm");
      const elf = await get("/images/buddy86-guest.elf");
      expect(elf.status).toBe(200);
      expect(Buffer.from(await elf.arrayBuffer()).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
      expect((await get("/../package.json")).status).toBe(404);
      expect((await get("/%2e%2e/package.json")).status).toBe(404);
      expect((await get("/nothing-here.js")).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
