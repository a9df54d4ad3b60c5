// The page's speed check: the guest's cost per hypercall with the live views against the CLI's, both
// measured in this browser on the same inputs. The CLI's figure is a run of runMachine exactly as
// `buddy86 boot --json` makes it (no observer, no run control, no callbacks); a second reference is
// `buddy86 boot --owners`, which observes the run as the page does (and more). Each reference runs in
// a worker of its own, as the CLI runs in a process of its own, and the page's worker runs only the
// page (remote-run.ts referenceWorkers). After one unmeasured run of the CLI path and of the page
// with the check's settings, each round runs a CLI-path run and a page run one right
// after the other (CLI first in even rounds, the page first in odd ones), then the --owners run. The
// check's figure is the median over rounds of each pair's ratio: the machine's speed drifts by tens
// of percent between minutes on a shared VM (docs/web-speed.md), and a pair run back to back sees
// the same minute. Beside it, the best run against the best run and the median against the median.

import { medianMinMax } from "../bench/workloads.js";
import type { BootReport } from "../cli/report.js";
import type { RunSettings } from "./live-run.js";

export interface SpeedResult {
  /** ns per bridge call: the best CLI-path run, the best `--owners` run and the best live-page run. */
  cliNsPerCall: number;
  ownersNsPerCall: number;
  pageNsPerCall: number;
  /**
   * The check's figure: the median over rounds of cliRuns[i] / pageRuns[i], each pair run back to
   * back (the upper of the two middle pairs for an even count). 1 is as fast as the CLI, 0.5 half its speed.
   */
  pairedRelativeSpeed: number;
  /** cliNsPerCall / pageNsPerCall: the best runs' ratio. */
  relativeSpeed: number;
  /**
   * The median CLI-path run over the median page run: beside the best runs' ratio, because each
   * path's runs spread by about 40% from run to run (v86's own time, docs/web-speed.md), so the best
   * of a few runs is the spread's luckiest draw and the ratio of two bests moves with it.
   */
  medianRelativeSpeed: number;
  /** Every run's figure, by round (the CLI path and the page in pairs, see speedCheck). */
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
 * Runs the CLI path, the live page (through `runLive`, which drives the real panels) and the CLI's
 * `--owners` path `rounds` times each, after one unmeasured run of the CLI path and of the page: per
 * round the CLI path and the page back to back, in turns (CLI first in even rounds), then --owners.
 * Throws when a run does not EXIT.
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
  const cliRun = async (): Promise<void> => {
    cliRuns.push(nsPerCall(await runCli(plain, false), "CLI-path"));
  };
  const pageRun = async (): Promise<void> => {
    const live = await runLive(plain);
    pageRuns.push(nsPerCall(live, "live page"));
    calls = Object.values(live.calls).reduce((a, b) => a + b, 0);
  };
  // One unmeasured run of each path with these very settings first: a worker's first run of a
  // workload compiles its guest code (the page's worker has often just run it, the CLI path's has
  // only the warm-up's demo), and a cold first round favoured the page (CLI path 86 to 139 ns per
  // churn call in round 0, 55 to 110 after it; its slowest run in ten of twelve checks).
  nsPerCall(await runCli(plain, false), "CLI-path");
  nsPerCall(await runLive(plain), "live page");
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      await cliRun();
      await pageRun();
    } else {
      await pageRun();
      await cliRun();
    }
    ownersRuns.push(nsPerCall(await runCli(plain, true), "CLI --owners path"));
  }
  const cli = Math.min(...cliRuns);
  const page = Math.min(...pageRuns);
  // The benchmarks' median (the upper of the two middle values for an even count).
  const pairedRelativeSpeed = medianMinMax(cliRuns.map((c, i) => c / pageRuns[i]!)).median;
  const medianRelativeSpeed = medianMinMax(cliRuns).median / medianMinMax(pageRuns).median;
  return {
    cliNsPerCall: cli,
    ownersNsPerCall: Math.min(...ownersRuns),
    pageNsPerCall: page,
    pairedRelativeSpeed,
    relativeSpeed: cli / page,
    medianRelativeSpeed,
    cliRuns,
    ownersRuns,
    pageRuns,
    calls,
    cmdline: settings.cmdline,
  };
}
