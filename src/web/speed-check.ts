// The page's speed check: the guest's cost per hypercall with the live views against the CLI's, both
// measured in this browser on the same inputs. The CLI's figure is a run of runMachine exactly as
// `buddy86 boot --json` makes it (no observer, no run control, no callbacks); a second reference is
// `buddy86 boot --owners`, which observes the run as the page does (and more). Each reference runs in
// a worker of its own, as the CLI runs in a process of its own, and the page's worker runs only the
// page (remote-run.ts referenceWorkers). The runs alternate and the best of each is compared, and
// beside that the median runs.

import { medianMinMax } from "../bench/workloads.js";
import type { BootReport } from "../cli/report.js";
import type { RunSettings } from "./live-run.js";

export interface SpeedResult {
  /** ns per bridge call: the best CLI-path run, the best `--owners` run and the best live-page run. */
  cliNsPerCall: number;
  ownersNsPerCall: number;
  pageNsPerCall: number;
  /** cliNsPerCall / pageNsPerCall: 1 is as fast as the CLI, 0.5 half its speed. */
  relativeSpeed: number;
  /**
   * The median CLI-path run over the median page run: beside the best runs' ratio, because each
   * path's runs spread by about 40% from run to run (v86's own time, docs/web-speed.md), so the best
   * of a few runs is the spread's luckiest draw and the ratio of two bests moves with it.
   */
  medianRelativeSpeed: number;
  /** Every run's figure, in the order they ran (alternating, CLI first). */
  cliRuns: number[];
  ownersRuns: number[];
  pageRuns: number[];
  calls: number;
  cmdline: string;
}

function nsPerCall(r: BootReport, what: string): number {
  if (r.reason !== "exit" || r.bridgeNsPerCall === null) throw new Error(`speed check: the ${what} run did not end with EXIT (${r.reason}: ${r.message})`);
  return r.bridgeNsPerCall;
}

/**
 * Runs the CLI path, the CLI's `--owners` path and the live page (through `runLive`, which drives the
 * real panels) `rounds` times each, in turn, and compares the best run of each (the machine's noise
 * only ever slows a run down). Throws when a run does not EXIT.
 */
export async function speedCheck(
  settings: RunSettings,
  runCli: (s: RunSettings, observed: boolean) => Promise<BootReport>,
  runLive: (s: RunSettings) => Promise<BootReport>,
  rounds = 2,
): Promise<SpeedResult> {
  const plain = { ...settings, callsPerFrame: 0, pauseAtMark: "", poison: false };
  const cliRuns: number[] = [];
  const ownersRuns: number[] = [];
  const pageRuns: number[] = [];
  let calls = 0;
  for (let round = 0; round < rounds; round++) {
    cliRuns.push(nsPerCall(await runCli(plain, false), "CLI-path"));
    ownersRuns.push(nsPerCall(await runCli(plain, true), "CLI --owners path"));
    const live = await runLive(plain);
    pageRuns.push(nsPerCall(live, "live page"));
    calls = Object.values(live.calls).reduce((a, b) => a + b, 0);
  }
  const cli = Math.min(...cliRuns);
  const page = Math.min(...pageRuns);
  // The benchmarks' median (the upper of the two middle runs for an even count).
  const medianRelativeSpeed = medianMinMax(cliRuns).median / medianMinMax(pageRuns).median;
  return { cliNsPerCall: cli, ownersNsPerCall: Math.min(...ownersRuns), pageNsPerCall: page, relativeSpeed: cli / page, medianRelativeSpeed, cliRuns, ownersRuns, pageRuns, calls, cmdline: settings.cmdline };
}
