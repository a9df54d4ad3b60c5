// `npm run fuzz -- --calls N [--seed S] [--per-run N] [--full-check-every N] [--shrink] [--path P]`: a long
// campaign of the port fuzzer (src/bench/fuzz.ts, the same engine test/fuzz-port.test.ts runs for
// 100,000 calls in CI). Bundles the TypeScript with esbuild into a temp file, runs it, prints one JSON
// line with the totals; on a violation prints fast-check's seed and path (rerun with --seed S --path P,
// which replays just that guest) and exits 1.
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

function parse(argv) {
  const o = { calls: 1_000_000, seed: Date.now() >>> 0, callsPerRun: 2000, fullCheckEvery: 1, shrink: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number, got ${argv[i]}`);
      return v;
    };
    if (a === "--calls") o.calls = next();
    else if (a === "--seed") o.seed = next();
    else if (a === "--per-run") o.callsPerRun = next();
    else if (a === "--full-check-every") o.fullCheckEvery = next();
    else if (a === "--shrink") o.shrink = true;
    else if (a === "--path") o.path = argv[++i];
    else throw new Error(`unknown option ${a} (use --calls N --seed S --per-run N --full-check-every N --shrink --path P)`);
  }
  return o;
}

let options;
try {
  options = parse(process.argv.slice(2));
} catch (e) {
  console.error(`fuzz: ${e.message}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "buddy86-fuzz-"));
try {
  const out = join(dir, "fuzz.mjs");
  await build({ entryPoints: ["src/bench/fuzz.ts"], outfile: out, bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning" });
  const { runFuzz } = await import(pathToFileURL(out).href);
  console.error(`fuzz: ${options.calls} calls, seed ${options.seed}`);
  try {
    const result = runFuzz({ ...options, log: (line) => console.error(line) });
    console.log(JSON.stringify(result));
  } catch (e) {
    console.error(e.message);
    if (e.cause) console.error(`cause: ${e.cause instanceof Error && !(e.cause.message.startsWith("call ")) ? e.cause.stack : e.cause.message ?? e.cause}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
