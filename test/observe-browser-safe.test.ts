// src/observe/ is reused by the web page: bundled for the browser, none of its modules (nor anything
// they import from src/) may import a Node API.

import { build } from "esbuild";
import { describe, expect, it } from "vitest";

describe("src/observe in a browser", () => {
  it("bundles for the browser with no Node API imported by our code", async () => {
    const r = await build({
      entryPoints: ["src/observe/index.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
      // v86 itself guards its Node requires; ours must have none.
      external: ["fs", "crypto", "perf_hooks", "node:*"],
    });
    const ours = Object.entries(r.metafile.inputs).filter(([file]) => file.startsWith("src/"));
    expect(ours.map(([file]) => file)).toContain("src/observe/page-owner.ts");
    const nodeImports = ours.flatMap(([file, input]) => input.imports.filter((i) => i.external).map((i) => `${file} -> ${i.path}`));
    expect(nodeImports).toEqual([]);
  });
});
