// `npm run bench:web`: the web page's guest speed against the CLI's, in ns per bridge call. Builds the
// page, opens it in headless Chromium (/usr/bin/chromium via playwright-core) and presses its Speed
// check: the CLI's code path and the live page, alternating, in the same browser (see
// src/web/speed-check.ts). Also runs the real CLI under Node for reference. Prints one JSON line.
// Before the speed check it presses Run once: the page's first run (after the page's warm-up, or in a
// cold worker with --warm 0), to set beside the CLI under Node (a cold process each time).
//   node scripts/bench-web.mjs [--workload demo] [--ops 1000] [--seed 1] [--rounds 3] [--warm 1]
//        [--js-flags "--max-inlined-bytecode-size=1000"]   (V8 flags for every worker, as profile-web's)

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildWeb } from "./build-web.mjs";
import { launchChromium, serveStatic } from "./serve-web.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENDED = ["exited", "stopped", "timeout", "fault", "host-error", "error"];

const opts = { workload: "demo", ops: "1000", seed: "1", rounds: "3", warm: "1", "js-flags": "" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, "");
  if (!(key in opts) || argv[i + 1] === undefined) throw new Error(`bench-web: unknown or incomplete argument ${argv[i]} (use --workload, --ops, --seed, --rounds, --warm, --js-flags)`);
  opts[key] = argv[i + 1];
}

const tmp = mkdtempSync(join(tmpdir(), "buddy86-bench-web-"));
try {
  const { files } = await buildWeb({ outdir: join(tmp, "site"), sourcemap: false });
  // The CLI under Node, for reference (built from source like scripts/build.mjs builds dist/cli.js).
  // Inside the project, so that the bundle's external packages resolve from its node_modules.
  const cli = join(ROOT, "node_modules/.cache/buddy86-bench-web/cli.mjs");
  await build({ entryPoints: [join(ROOT, "src/cli/main.ts")], outfile: cli, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "warning" });
  const nodeRuns = [0, 1].map(() => {
    const out = execFileSync(process.execPath, [cli, "boot", "--kernel", join(ROOT, "images/buddy86-guest.elf"), "--workload", opts.workload, "--ops", opts.ops, "--seed", opts.seed, "--json"], { maxBuffer: 1 << 26 });
    return JSON.parse(out.toString()).bridgeNsPerCall;
  });
  const server = await serveStatic(join(tmp, "site"), 0);
  const context = await launchChromium(join(tmp, "profile"), { args: opts["js-flags"] === "" ? [] : [`--js-flags=${opts["js-flags"]}`] });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.url}?rounds=${Number(opts.rounds)}${opts.warm === "0" ? "&warm=0" : ""}`);
    await page.selectOption("#workload", opts.workload);
    await page.fill("#ops", opts.ops);
    await page.fill("#seed", opts.seed);
    // First, the run a user gets on opening the page and pressing Run, to set beside `buddy86 boot`
    // under Node (a cold process): the like-for-like first impression. The page warms its worker as
    // it opens (page.ts warm); a user who looks at the page for a few seconds before pressing Run
    // finds it warm, so the bench waits for the warm-up's end (`--warm 0`: no warm-up, a cold worker).
    await page.waitForFunction(() => !window.buddy86.warming, null, { timeout: 5 * 60_000, polling: 100 });
    const warmUp = await page.evaluate(() => window.buddy86.warmUp);
    await page.click("#run");
    await page.waitForFunction((ended) => ended.includes(window.buddy86.state) || window.buddy86.error !== null, ENDED, { timeout: 15 * 60_000, polling: 250 });
    const cold = await page.evaluate(() => ({ report: window.buddy86.report, error: window.buddy86.error }));
    if (cold.error !== null || cold.report?.reason !== "exit") throw new Error(`the page's first run failed: ${cold.error ?? cold.report?.reason}`);
    await page.click("#speed-check");
    await page.waitForFunction(() => window.buddy86.speed !== null || window.buddy86.error !== null, null, { timeout: 15 * 60_000, polling: 250 });
    const { speed, error, drawStats, packetStats } = await page.evaluate(() => ({ speed: window.buddy86.speed, error: window.buddy86.error, drawStats: window.buddy86.drawStats, packetStats: window.buddy86.packetStats }));
    if (error !== null) throw new Error(`the page failed: ${error}`);
    console.log(
      JSON.stringify({
        cmdline: speed.cmdline,
        calls: speed.calls,
        browserCliNsPerCall: Math.round(speed.cliNsPerCall),
        browserCliOwnersNsPerCall: Math.round(speed.ownersNsPerCall),
        pageNsPerCall: Math.round(speed.pageNsPerCall),
        pageRelativeSpeedPaired: Number(speed.pairedRelativeSpeed.toFixed(3)),
        pageRelativeSpeed: Number(speed.relativeSpeed.toFixed(3)),
        pageRelativeSpeedMedian: Number(speed.medianRelativeSpeed.toFixed(3)),
        pageFirstRunNsPerCall: Math.round(cold.report.bridgeNsPerCall),
        warmUp,
        browserCliRuns: speed.cliRuns.map(Math.round),
        browserCliOwnersRuns: speed.ownersRuns.map(Math.round),
        pageRuns: speed.pageRuns.map(Math.round),
        nodeCliNsPerCall: nodeRuns.map(Math.round),
        pageJsBytes: files["page.js"],
        workerJsBytes: files["worker.js"],
        wasmBytes: files["v86.wasm"],
        drawMsPerFrame: Number((drawStats.ms / Math.max(1, drawStats.frames)).toFixed(2)),
        // The last page run: packets the worker built for the page, and its milliseconds per packet.
        workerPackets: packetStats.packets,
        workerMsPerPacket: Number((packetStats.ms / Math.max(1, packetStats.packets)).toFixed(2)),
        ...(opts["js-flags"] === "" ? {} : { jsFlags: opts["js-flags"] }),
      }),
    );
  } finally {
    await context.close();
    await server.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
