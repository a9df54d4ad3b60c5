// The web page boots the bundled guest in headless Chromium to EXIT(0), offline (every request stays
// on the local server), and shows the same /proc/buddyinfo as `buddy86 boot --json` for the same
// inputs: same allocator code, same determinism. Two runs in one page: the default inputs, then a
// smaller machine with another max order and no per-CPU lists.

import { existsSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { sharedPage, runCli, screenshot, startRun, waitForEnd, type PageInputs } from "./web-harness.js";

const web = sharedPage();

/** The CLI flags for the same inputs as the page's controls. */
function cliArgs(i: Required<Pick<PageInputs, "workload" | "seed" | "ops" | "memory" | "maxOrder" | "pcp">>): string[] {
  return ["boot", "--workload", i.workload, "--seed", String(i.seed), "--ops", String(i.ops), "--memory", String(i.memory), "--max-order", String(i.maxOrder), ...(i.pcp ? [] : ["--no-pcp"])];
}

describe("the web page runs the guest", () => {
  const cases = [
    { workload: "demo", seed: 7, ops: 300, memory: 128 * 2 ** 20, maxOrder: 10, pcp: true },
    { workload: "random", seed: 3, ops: 2000, memory: 64 * 2 ** 20, maxOrder: 8, pcp: false },
  ];
  for (const inputs of cases) {
    test(`${inputs.workload} at ${inputs.memory / 2 ** 20} MiB, max order ${inputs.maxOrder}, pcp ${inputs.pcp}: EXIT(0) and the CLI's buddyinfo`, async () => {
      const [cli] = await Promise.all([runCli(cliArgs(inputs)), startRun(web.page, inputs)]);
      const report = await waitForEnd(web.page);
      expect(web.problems).toEqual([]);
      expect(cli.exitCode, JSON.stringify(cli.message)).toBe(0);
      expect(report.reason, report.message).toBe("exit");
      expect(report.exitCode).toBe(0);
      // What the page shows, not only what it knows.
      const shown = await web.page.textContent("#buddyinfo");
      expect(shown).toBe(cli.buddyinfo);
      expect(report.buddyinfo).toBe(cli.buddyinfo);
      expect(await web.page.getAttribute("#status", "data-exit-code")).toBe("0");
      // Same requests served with the same answers, call for call.
      expect(report.calls).toEqual(cli.calls);
      expect(report.statuses).toEqual(cli.statuses);
      expect(report.freePages).toBe(cli.freePages);
      expect(await web.page.textContent("#console")).toContain("EXIT(0)");
      expect(Number(await web.page.getAttribute("#events", "data-total"))).toBeGreaterThan(0);
    }, 180_000);
  }

  test("a screenshot of the page after a run", async () => {
    const path = await screenshot(web.page, "web-boot.png");
    expect(existsSync(path)).toBe(true);
  });
});
