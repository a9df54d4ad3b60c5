// Shared by the web tests (test/web-*.test.ts): builds the page into a temporary folder, serves it on
// 127.0.0.1, drives it in real headless Chromium (Debian's /usr/bin/chromium through playwright-core,
// with a fresh profile), builds and runs the real CLI for the reference figures, and reads the map
// canvas back cell by cell. Every page is watched: a page error, a failed request or a request that
// leaves the local server fails the test (the page must work offline).

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { buildWeb } from "../scripts/build-web.mjs";
import { CHROMIUM, launchChromium, serveStatic } from "../scripts/serve-web.mjs";
import type { BootReport } from "../src/cli/report.js";
import { bundleCli } from "./helpers/cli.js";

const ROOT = new URL("..", import.meta.url).pathname;
/** Where tests leave what a human may want to look at (gitignored). */
export const RESULTS = join(ROOT, "test-results");

/** A built and served page, a browser on it, and the problems seen so far. */
export interface WebSession {
  url: string;
  context: BrowserContext;
  page: Page;
  /** Page errors, failed requests and requests to anything but the local server. */
  problems: string[];
  /**
   * Every blob: URL the page or its workers requested. v86 loads its timer worker from one, unless
   * it yields on its own thread (src/host/browser-platform.ts, V86_WORKER_QUERY).
   */
  blobRequests: string[];
  close(): Promise<void>;
}

/**
 * The page a test file's tests share: opened before them (vitest beforeAll, registered first, so a
 * file's own beforeAll may use it) and closed after them. The object is filled in when the page has
 * opened, so tests use it as they would openPage()'s.
 */
export function sharedPage(): WebSession {
  const web = {} as WebSession;
  beforeAll(async () => {
    Object.assign(web, await openPage());
  }, 60_000);
  afterAll(async () => {
    await web.close?.();
  });
  return web;
}

/** Builds the site into a fresh folder, serves it and opens it in a fresh Chromium profile. */
export async function openPage(): Promise<WebSession> {
  if (!existsSync(CHROMIUM)) throw new Error(`the web tests need Debian's Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), "buddy86-web-"));
  const profile = mkdtempSync(join(tmpdir(), "buddy86-chromium-"));
  await buildWeb({ outdir: dir, sourcemap: false });
  const server = (await serveStatic(dir, 0)) as { url: string; close(): Promise<void> };
  const context = (await launchChromium(profile)) as BrowserContext;
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`);
  });
  const blobRequests: string[] = [];
  context.on("request", (r) => {
    const url = r.url();
    if (url.startsWith("blob:")) blobRequests.push(url);
    if (!url.startsWith(server.url) && !url.startsWith("blob:") && !url.startsWith("data:")) problems.push(`request left the local server: ${url}`);
  });
  await page.goto(server.url);
  await page.waitForFunction(() => window.buddy86 !== undefined);
  return {
    url: server.url,
    context,
    page,
    problems,
    blobRequests,
    async close() {
      await context.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The page's controls, as `buddy86 boot` flags would set them. */
export interface PageInputs {
  workload?: string;
  seed?: number;
  ops?: number;
  /** Guest RAM in bytes (one of the page's memory choices). */
  memory?: number;
  maxOrder?: number;
  pcp?: boolean;
  pauseAtMark?: string;
  /** A kernel file to upload (bring your own ELF) instead of the bundled guest. */
  kernel?: { name: string; bytes: Uint8Array };
}

/** The page states that mean a run is over. */
const ENDED = ["exited", "stopped", "timeout", "fault", "host-error", "error"];

/** Sets the controls and presses Run (does not wait). */
export async function startRun(page: Page, inputs: PageInputs): Promise<void> {
  if (inputs.kernel !== undefined) {
    await page.selectOption("#kernel", "file");
    await page.setInputFiles("#kernel-file", { name: inputs.kernel.name, mimeType: "application/octet-stream", buffer: Buffer.from(inputs.kernel.bytes) });
  } else await page.selectOption("#kernel", "images/buddy86-guest.elf");
  if (inputs.workload !== undefined) await page.selectOption("#workload", inputs.workload);
  if (inputs.seed !== undefined) await page.fill("#seed", String(inputs.seed));
  if (inputs.ops !== undefined) await page.fill("#ops", String(inputs.ops));
  await page.selectOption("#memory", String(inputs.memory ?? 128 * 2 ** 20));
  await page.fill("#max-order", String(inputs.maxOrder ?? 10));
  await page.setChecked("#pcp", inputs.pcp ?? true);
  await page.fill("#pause-at-mark", inputs.pauseAtMark ?? "");
  await page.waitForSelector("#run:enabled");
  // Pressing Run ends the last run's state at once: a test waiting for the end must never see the
  // last run's end.
  const state = await clickReadingState(page, "run");
  if (ENDED.includes(state)) throw new Error(`the page still says "${state}" after Run was pressed`);
}

/**
 * Clicks a control and returns window.buddy86.state read in the click's own task, so a page that
 * changes its state only after an await is caught every time, not once in a while.
 */
export async function clickReadingState(page: Page, id: string): Promise<string> {
  return page.evaluate((id) => {
    document.getElementById(id)!.click();
    return window.buddy86!.state;
  }, id);
}

/**
 * Arms a control change for the task in which the next Run enables Stop: the page says booting and
 * the worker has not even read the start message, however loaded the machine. `change` is a button
 * to click or a select to set (with a change event). Returns a function that resolves to the page's
 * state at that moment, once the run has been started.
 */
export async function duringBoot(page: Page, change: { click: string } | { select: string; value: string }): Promise<() => Promise<string>> {
  await page.evaluate((change) => {
    const stop = document.getElementById("stop") as HTMLButtonElement;
    (window as unknown as { duringBoot: Promise<string> }).duringBoot = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (stop.disabled) return;
        observer.disconnect();
        const state = window.buddy86!.state;
        if ("click" in change) document.getElementById(change.click)!.click();
        else {
          const select = document.getElementById(change.select) as HTMLSelectElement;
          select.value = change.value;
          select.dispatchEvent(new Event("change"));
        }
        resolve(state);
      });
      observer.observe(stop, { attributes: true, attributeFilter: ["disabled"] });
    });
  }, change);
  return () => page.evaluate(() => (window as unknown as { duringBoot: Promise<string> }).duringBoot);
}

/** Waits until the page's run is over; returns its `buddy86 boot --json` report. */
export async function waitForEnd(page: Page, timeoutMs = 120_000): Promise<BootReport> {
  await page.waitForFunction((ended) => ended.includes(window.buddy86!.state), ENDED, { timeout: timeoutMs, polling: 100 });
  const { report, error } = await page.evaluate(() => ({ report: window.buddy86!.report, error: window.buddy86!.error }));
  if (report === null) throw new Error(`the page's run ended without a report: ${error ?? "no error"}`);
  return report;
}

/** Waits until the guest is paused and the map shows the paused state; returns the calls answered. */
export async function waitForPause(page: Page, timeoutMs = 120_000): Promise<number> {
  await page.waitForFunction(() => window.buddy86!.state === "paused" || window.buddy86!.error !== null, null, { timeout: timeoutMs, polling: 100 });
  const error = await page.evaluate(() => window.buddy86!.error);
  if (error !== null) throw new Error(`the page failed: ${error}`);
  const calls = await page.evaluate(() => window.buddy86!.calls);
  // The canvas says which call its state bytes hold (data-seq): wait for the one after the pause.
  await page.waitForFunction((seq) => document.getElementById("map")!.dataset.seq === String(seq), calls - 1, { timeout: timeoutMs, polling: 50 });
  return calls;
}

/** The map canvas: its layout attributes and every pixel (RGBA). */
export interface MapPixels {
  startPfn: number;
  columns: number;
  cell: number;
  width: number;
  height: number;
  rgba: Uint8Array;
}

export async function readMap(page: Page): Promise<MapPixels> {
  const data = await page.evaluate(() => {
    const canvas = document.getElementById("map") as HTMLCanvasElement;
    const ctx = canvas.getContext("2d")!;
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const d = canvas.dataset;
    // Base64 crosses the protocol quickly; an array of 2 million numbers takes seconds.
    let binary = "";
    for (let i = 0; i < image.data.length; i += 0x8000) binary += String.fromCharCode(...image.data.subarray(i, i + 0x8000));
    return { startPfn: Number(d.startPfn), columns: Number(d.columns), cell: Number(d.cell), width: canvas.width, height: canvas.height, rgba: btoa(binary) };
  });
  return { ...data, rgba: new Uint8Array(Buffer.from(data.rgba, "base64")) };
}

/** The 0xRRGGBB colour at the centre of frame pfn's cell. */
export function cellColour(map: MapPixels, pfn: number): number {
  const offset = pfn - map.startPfn;
  const x = (offset % map.columns) * map.cell + Math.floor((map.cell - 1) / 2);
  const y = Math.floor(offset / map.columns) * map.cell + Math.floor((map.cell - 1) / 2);
  const i = 4 * (y * map.width + x);
  return (map.rgba[i]! << 16) | (map.rgba[i + 1]! << 8) | map.rgba[i + 2]!;
}

let cliBundle: Promise<string> | null = null;

/** The CLI built from src/cli/main.ts with esbuild (as scripts/build.mjs does), once per test file. */
function cliPath(): Promise<string> {
  cliBundle ??= bundleCli(join(RESULTS, `web-cli-${process.pid}`, "cli.mjs"));
  return cliBundle;
}

/**
 * Runs `buddy86 <args> --json` and returns its report, whatever its exit code (a guest's EXIT(1) or a
 * poison report exit non-zero); throws with its stderr when it printed no report.
 */
export async function runCli(args: string[]): Promise<BootReport & Record<string, unknown>> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, [await cliPath(), ...args, "--json"], { maxBuffer: 64 * 2 ** 20, cwd: ROOT }));
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    if (e.stdout === undefined || e.stdout.trim() === "") throw new Error(`buddy86 ${args.join(" ")}: ${e.stderr ?? e.message}`);
    stdout = e.stdout;
  }
  return JSON.parse(stdout) as BootReport & Record<string, unknown>;
}

/** Saves a screenshot of the whole page under test-results/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
