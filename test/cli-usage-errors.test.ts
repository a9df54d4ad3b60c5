// The CLI's refusals, through the real CLI in fresh processes: a command line that cannot work ends
// with exit code 2 and one line saying why, before anything runs, and never with a stack trace or a
// run whose result is then lost. Found by a review: output files that could not be written lost the
// run's result after the run, a timeout past setTimeout's range ended the run at once, a missing
// kernel file printed a stack, and a refused run left the progress bar's timer keeping the process
// alive at a terminal.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliFixture } from "./helpers/cli.js";

const ROOT = join(import.meta.dirname, "..");
const IMAGE = join(ROOT, "images/buddy86-guest.elf");
const fx = cliFixture("cli-usage");

/** The CLI built into the test cache finds no bundled image beside it: boot gets the image's path. */
function buddy86(args: string[], timeout = 60_000): { code: number | null; stdout: string; stderr: string } {
  const full = args[0] === "boot" && !args.includes("--kernel") ? ["boot", "--kernel", IMAGE, ...args.slice(1)] : args;
  const r = spawnSync(process.execPath, [fx.cli, ...full], { encoding: "utf8", timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 2, a one-line message naming `what`, no stack trace, and no run. */
function expectRefused(args: string[], what: RegExp): void {
  const r = buddy86(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(what);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).not.toMatch(/guest\||== buddy86 run/);
}


describe("command lines that cannot work are refused before the run", () => {
  it("output files in a folder that does not exist, or that are folders", () => {
    const missing = join(fx.dir, "no/such/folder");
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--trace", join(missing, "t.json")], /--trace .*cannot write there/);
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--map", join(missing, "m.svg")], /--map .*cannot write there/);
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--frag", fx.dir + "/"], /--frag .*must end in \.svg or \.png/);
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--trace", fx.dir], /--trace .*it is a folder/);
    // A good map beside a bad trace: neither is written, as nothing runs.
    const map = join(fx.dir, "m.svg");
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--map", map, "--trace", join(missing, "t.json")], /--trace/);
    expect(existsSync(map)).toBe(false);
  });

  it("the report command's pictures too", () => {
    const trace = join(fx.dir, "t.json");
    const r = buddy86(["boot", "--workload", "churn", "--ops", "50", "--trace", trace, "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    expectRefused(["report", trace, "--map", join(fx.dir, "no/such/m.svg")], /--map .*cannot write there/);
    expectRefused(["report", trace, "--frag", join(fx.dir, "no/such/f.png")], /--frag .*cannot write there/);
    // A moment that is not in the trace: refused before any of the report is printed. The run made
    // calls 0 to 120, so call 121 is past its end, as `boot --at` says of such a call.
    for (const at of ["nosuch", "mark:nosuch", "call:121"]) {
      const r = buddy86(["report", trace, "--at", at]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--at/);
      expect(r.stdout).toBe("");
    }
    expect(buddy86(["report", trace, "--at", "call:121"]).stderr).toMatch(/no call 121 in this trace \(its calls are 0 to 120\)/);
    expect(buddy86(["report", trace, "--at", "call:120"]).code).toBe(0);
  });

  it("report --at names the trace's own moment even where no snapshot is (a short run's peak)", () => {
    const trace = join(fx.dir, "short.json");
    const r = buddy86(["boot", "--workload", "random", "--ops", "3000", "--seed", "1", "--trace", trace, "--owners", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    const plain = buddy86(["report", trace, "--owners"]);
    const peak = buddy86(["report", trace, "--at", "peak", "--owners"]);
    expect(peak.code, peak.stderr).toBe(0);
    const owners = (out: string): string => out.slice(out.indexOf("== page owners"));
    expect(owners(plain.stdout)).toMatch(/^== page owners at peak/);
    expect(owners(peak.stdout)).toBe(owners(plain.stdout));
  });

  it("a timeout past setTimeout's range (about 24.8 days), and a kernel file that does not exist", () => {
    expectRefused(["boot", "--workload", "churn", "--ops", "10", "--timeout", "40000m"], /bad duration "40000m": at most 2147483647 ms/);
    expectRefused(["boot", "--kernel", join(fx.dir, "nosuch.elf")], /--kernel: cannot read .*nosuch\.elf/);
    // The largest timeout still runs.
    const r = buddy86(["boot", "--workload", "churn", "--ops", "10", "--timeout", "2147483647ms", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("options that would do nothing with the others given", () => {
    const run = ["boot", "--workload", "churn", "--ops", "10"];
    expectRefused([...run, "--poison-action", "stop"], /--poison-action needs --poison/);
    expectRefused([...run, "--trace-limit", "5"], /--trace-limit needs --trace/);
    expectRefused([...run, "--trace-snapshot-every", "5"], /--trace-snapshot-every needs --trace/);
    expectRefused([...run, "--no-pcp", "--pcp-high", "5"], /--pcp-high cannot be given with --no-pcp/);
    expectRefused([...run, "--no-pcp", "--pcp-batch", "5"], /--pcp-batch cannot be given with --no-pcp/);
    expectRefused([...run, "--report-every", "0"], /--report-every 0/);
    // With what they need, they run.
    const ok = buddy86([...run, "--poison", "--poison-action", "stop", "--trace", join(fx.dir, "ok.json"), "--trace-limit", "5", "--pcp-high", "100", "--quiet"]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("--fail-site naming no function of the kernel, or with a kernel without symbols (it would inject nothing)", () => {
    expectRefused(["boot", "--workload", "random", "--ops", "10", "--fail-site", "live_int"], /--fail-site live_int: the kernel has no function of that name \(did you mean .*live_init/);
    expectRefused(["boot", "--workload", "random", "--ops", "10", "--fail-site", "no_such_function"], /--fail-site no_such_function: the kernel has no function of that name$/m);
    // The same kernel with its section headers (and so its symbol table) cut off.
    const stripped = new Uint8Array(readFileSync(IMAGE));
    const dv = new DataView(stripped.buffer);
    dv.setUint32(0x20, 0, true); // e_shoff
    dv.setUint16(0x30, 0, true); // e_shnum
    dv.setUint16(0x32, 0, true); // e_shstrndx
    const kernel = join(fx.dir, "stripped.elf");
    writeFileSync(kernel, stripped);
    expectRefused(["boot", "--kernel", kernel, "--workload", "random", "--ops", "10", "--fail-site", "live_init"], /--fail-site live_init: the kernel has no symbol table/);
    // A function it has is taken: the run goes, and the injected failure of live_init ends the guest with 1.
    expect(buddy86(["boot", "--workload", "random", "--ops", "10", "--fail-site", "live_init", "--quiet"]).code).toBe(1);
  });

  it("a run refused at a terminal ends: the progress bar's timer does not keep the process alive", () => {
    // `script` gives the CLI a terminal (the bar only draws on one); without the fix this never exits.
    const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;
    expect(hasScript, "util-linux's script is needed for this test").toBe(true);
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(fx.cli)} boot --kernel ${JSON.stringify(IMAGE)} --pcp-high 0 --quiet`;
    const r = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", timeout: 30_000 });
    expect(r.error, "the refused run did not end within 30 s").toBeUndefined();
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/pcp needs integers/);
  }, 60_000);
});
