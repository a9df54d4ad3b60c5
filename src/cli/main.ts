#!/usr/bin/env node
// The buddy86 command line. `buddy86 boot` boots a multiboot kernel (the bundled guest by default) in
// v86 with every page it asks for served by the buddy allocator, prints the boot log, the guest's
// serial log and a report. Exit codes: 0 guest EXIT 0, 1 guest EXIT non-zero, 2 usage or host
// error, 3 timeout or guest fault, 4 a use after free found by --poison (debug-flags.ts).

import { Command, CommanderError, Option } from "commander";
import { readBytes, nodePlatform } from "../host/node-platform.js";
import { DEFAULT_MEMORY_BYTES, MachineConfigError, runMachine, validateMemoryBytes } from "../machine/index.js";
import { DEFAULT_MAX_ORDER, MAX_MAX_ORDER, PCP_DEFAULT_BATCH, PCP_DEFAULT_HIGH } from "../mem/index.js";
import { GUEST_IMAGE, bundledImage } from "./images.js";
import { UsageError, givenOption, parseCount, parseDuration, parseSize } from "./options.js";
import { buildReport, formatSummary, processExitCode } from "./report.js";
import { ObserveRun, addObserveOptions, observeRequested, plainProgress, type ObserveFlags } from "./observe-flags.js";
import { addReportCommand } from "./report-command.js";
import { DebugRun, addDebugOptions, type DebugFlags } from "./debug-flags.js";

interface BootFlags extends ObserveFlags, DebugFlags {
  kernel?: string;
  cmdline?: string;
  memory: string;
  workload?: string;
  seed?: string;
  ops?: string;
  maxOrder: string;
  pcp: boolean;
  pcpHigh: string;
  pcpBatch: string;
  timeout: string;
  json: boolean;
  quiet: boolean;
}

/** The multiboot cmdline: --cmdline as given, then workload=/seed=/ops= from their flags. */
export function composeCmdline(flags: Pick<BootFlags, "cmdline" | "workload" | "seed" | "ops">): string {
  const parts = flags.cmdline !== undefined && flags.cmdline !== "" ? [flags.cmdline] : [];
  if (flags.workload !== undefined) {
    if (!/^[a-z0-9_-]+$/i.test(flags.workload)) throw new UsageError(`bad workload name "${flags.workload}"`);
    parts.push(`workload=${flags.workload}`);
  }
  if (flags.seed !== undefined) parts.push(`seed=${parseCount("seed", flags.seed)}`);
  if (flags.ops !== undefined) parts.push(`ops=${parseCount("ops", flags.ops)}`);
  return parts.join(" ");
}

async function boot(flags: BootFlags): Promise<number> {
  const memoryBytes = parseSize(flags.memory);
  try {
    validateMemoryBytes(memoryBytes);
  } catch (e) {
    throw new UsageError(`--memory ${flags.memory}: ${(e as Error).message}`);
  }
  const maxOrder = parseCount("max order", flags.maxOrder);
  if (maxOrder > MAX_MAX_ORDER) throw new UsageError(`--max-order ${maxOrder}: use 0..${MAX_MAX_ORDER}`);
  const pcp = flags.pcp ? { high: parseCount("pcp high", flags.pcpHigh), batch: parseCount("pcp batch", flags.pcpBatch) } : false;
  const cmdline = composeCmdline(flags);
  const kernelPath = flags.kernel ?? bundledImage(GUEST_IMAGE);
  let kernel: Uint8Array;
  try {
    kernel = readBytes(kernelPath);
  } catch (e) {
    throw new UsageError(`--kernel: ${(e as Error).message}`);
  }
  const timeoutMs = parseDuration(flags.timeout);
  const live = !flags.json && !flags.quiet;
  // A run that saves or restores a snapshot is observed too: the file carries its page-owner records.
  const requested = observeRequested(flags);
  const observe =
    requested || flags.saveState !== undefined || flags.restoreState !== undefined
      ? new ObserveRun(flags, { kernel, json: flags.json, quiet: flags.quiet, requested, ops: flags.ops !== undefined ? parseCount("ops", flags.ops) : null, cmdline, memoryBytes, print: (text) => console.log(text) })
      : null;
  const debug = DebugRun.requested(flags)
    ? new DebugRun(flags, { kernel, cmdline, memoryBytes, maxOrder, pcp, seed: flags.seed, json: flags.json, quiet: flags.quiet, print: (text) => console.log(text) })
    : null;
  if (debug !== null && observe !== null) debug.useOwners(observe.session);
  const progress = observe === null ? plainProgress(flags, flags.json, flags.ops !== undefined ? parseCount("ops", flags.ops) : null) : null;

  let result: Awaited<ReturnType<typeof runMachine>>;
  try {
    result = await runMachine({
      kernel,
      platform: nodePlatform(),
      memoryBytes,
      cmdline,
      maxOrder,
      pcp,
      timeoutMs,
      onBootLogLine: live ? (line) => console.log(`[buddy86] ${line}`) : undefined,
      onGuestLine: live ? (line) => console.log(`guest| ${line}`) : undefined,
      observer: observe?.observer ?? progress?.observer ?? null,
      ...debug?.machineOptions(),
    });
  } finally {
    // Also when runMachine refuses its options: the bar's timer would keep the process alive.
    progress?.stop();
  }
  const report = buildReport(result);
  if (observe !== null) {
    const observed = await observe.finish(result);
    // A run observed only for its snapshot's page owners reports as an unobserved one.
    if (requested) Object.assign(report, { observe: observed });
  }
  if (debug !== null) Object.assign(report, { debug: debug.finish(result) });
  if (flags.json) console.log(JSON.stringify(report));
  else console.log(formatSummary(report));
  if (result.error !== null && result.reason === "host-error") console.error(`buddy86: host error: ${result.error.stack ?? result.error.message}`);
  return debug !== null ? debug.exitCode(processExitCode(result)) : processExitCode(result);
}

/**
 * Options that would do nothing with the others given: refused (exit 2) rather than ignored, so a
 * user who asked for them learns that they did not apply.
 */
const IDLE_UNLESS: readonly [option: string, flag: string, needs: (f: BootFlags) => boolean, why: string][] = [
  ["poisonAction", "--poison-action", (f) => f.poison === true, "needs --poison"],
  ["traceLimit", "--trace-limit", (f) => f.trace !== undefined, "needs --trace"],
  ["traceSnapshotEvery", "--trace-snapshot-every", (f) => f.trace !== undefined, "needs --trace"],
  ["pcpHigh", "--pcp-high", (f) => f.pcp, "cannot be given with --no-pcp"],
  ["pcpBatch", "--pcp-batch", (f) => f.pcp, "cannot be given with --no-pcp"],
];

function refuseIdleFlags(flags: BootFlags, cmd: Command): void {
  for (const [option, flag, needs, why] of IDLE_UNLESS) if (givenOption(cmd, option) && !needs(flags)) throw new UsageError(`${flag} ${why}`);
}

export function buildProgram(): Command {
  const program = new Command("buddy86")
    .description("A Linux-style buddy page allocator that owns the physical RAM of an x86 guest in v86")
    .exitOverride()
    .showHelpAfterError();
  program
    .command("boot")
    .description("boot a multiboot kernel whose every page request is served by the buddy allocator")
    .option("--kernel <file>", "multiboot ELF that speaks the buddy86 ABI (default: the bundled guest)")
    .option("--cmdline <str>", "multiboot command line")
    .option("--memory <size>", "guest RAM: a multiple of 128K up to 2G-128K (or max)", `${DEFAULT_MEMORY_BYTES / 2 ** 20}M`)
    .option("--workload <name>", "bundled guest workload: demo, churn, fill, random, pagetable, contig, batch, batchchurn, hostile, uaf")
    .option("--seed <n>", "workload seed")
    .option("--ops <n>", "workload operation count")
    .option("--max-order <n>", `largest block order, 0..${MAX_MAX_ORDER}`, String(DEFAULT_MAX_ORDER))
    .option("--no-pcp", "no per-CPU page cache (a pure buddy allocator)")
    .addOption(new Option("--pcp-high <frames>", "per-CPU cache high mark per zone").default(String(PCP_DEFAULT_HIGH)))
    .addOption(new Option("--pcp-batch <frames>", "per-CPU cache batch").default(String(PCP_DEFAULT_BATCH)))
    .option("--timeout <duration>", "end the run after this long (e.g. 60s, 2m)", "60s")
    .option("--json", "print one JSON report object instead of the logs and summary", false)
    .option("--quiet", "leave out the guest console and the --reports tables", false)
    .action(async (flags: BootFlags, cmd: Command) => {
      refuseIdleFlags(flags, cmd);
      process.exitCode = await boot(flags);
    });
  addObserveOptions(program.commands.find((c) => c.name() === "boot")!);
  addDebugOptions(program.commands.find((c) => c.name() === "boot")!);
  addReportCommand(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else if (e instanceof UsageError || e instanceof MachineConfigError) {
      console.error(`buddy86: ${e.message}`);
      process.exitCode = 2;
    } else {
      console.error(`buddy86: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = 2;
    }
  }
}

await main(process.argv);
