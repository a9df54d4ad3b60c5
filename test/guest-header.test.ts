// guest/include/buddy86.h is generated from src/protocol/abi.ts: the committed file must be exactly
// what renderGuestHeader() produces today, every command, status, GFP flag, STAT item and limit
// must be there with its value, and the file must work both from C and from assembler sources.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BATCH_RECORD, COMMANDS, GFP_FLAGS, HC_PORT, LIMITS, STATUSES, STAT_ITEMS } from "../src/protocol/abi.js";
import { HEADER_BANNER, HEADER_PATH, renderGuestHeader } from "../src/protocol/header.js";

const ROOT = join(import.meta.dirname, "..");
const committed = readFileSync(join(ROOT, HEADER_PATH), "utf8");

/** Every `#define NAME VALUE` of the header, values parsed as C integer literals. */
function defines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^#define\s+(\w+)\s+(0x[0-9A-Fa-f]+|\d+)\b/gm)) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function hasGcc32(): boolean {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("guest header", () => {
  it("is up to date with src/protocol/abi.ts (else run npm run gen:header)", () => {
    expect(committed, `${HEADER_PATH} is stale: run npm run gen:header`).toBe(renderGuestHeader());
  });

  it("carries the do-not-edit banner", () => {
    expect(committed.split("\n")[0]).toContain(HEADER_BANNER);
  });

  it("defines the port and the ABI version", () => {
    const d = defines(committed);
    expect(HC_PORT).toBe(0xe0);
    expect(d.get("HC_PORT")).toBe(0xe0);
    expect(committed).toMatch(/^#define HC_PORT\s+0xE0\b/m);
    expect(d.get("HC_ABI_VERSION")).toBe(1);
  });

  it("defines every command and every status with its code", () => {
    const d = defines(committed);
    for (const c of COMMANDS) expect(d.get(`HC_${c.name}`), `HC_${c.name}`).toBe(c.code);
    for (const s of STATUSES) expect(d.get(`HC_${s.name}`), `HC_${s.name}`).toBe(s.code);
  });

  it("defines the GFP flags, STAT items, BATCH layout and limits", () => {
    const d = defines(committed);
    for (const g of GFP_FLAGS) expect(d.get(g.name), g.name).toBe(g.value);
    for (const s of STAT_ITEMS) expect(d.get(`HC_${s.name}`), `HC_${s.name}`).toBe(s.code);
    expect(d.get("HC_BATCH_RECORD_SIZE")).toBe(BATCH_RECORD.SIZE);
    expect(d.get("HC_BATCH_OFF_RESULT")).toBe(BATCH_RECORD.RESULT);
    for (const [key, value] of Object.entries(LIMITS)) expect(d.get(`HC_LIMIT_${key}`), key).toBe(value);
  });

  it("has only preprocessor lines and comments outside the __ASSEMBLER__ guard", () => {
    const [asmPart, cPart] = committed.split("#ifndef __ASSEMBLER__");
    expect(cPart).toBeDefined();
    const withoutComments = asmPart!.replace(/\/\*[\s\S]*?\*\//g, "");
    for (const line of withoutComments.split("\n")) {
      if (line.trim() === "") continue;
      expect(line, "only #define/#ifndef/#endif may be visible to .S files").toMatch(/^#(define|ifndef|endif)\b/);
    }
    expect(cPart).toContain("struct hc_batch_record");
    expect(cPart).toContain("static inline uint32_t hc_call(");
  });

  it.skipIf(!hasGcc32())("compiles from C (with its static asserts) and from assembler", () => {
    const dir = mkdtempSync(join(tmpdir(), "buddy86-header-"));
    try {
      const include = ["-I", join(ROOT, "guest/include")];
      writeFileSync(join(dir, "t.c"), '#include "buddy86.h"\nuint32_t f(void) { uint32_t s; return hc_call(HC_STAT, 0, 0, 0, &s) + s; }\n');
      writeFileSync(join(dir, "t.S"), '#include "buddy86.h"\n    movl $HC_PORT, %edx\n    movl $HC_ALLOC_PAGES, %eax\n');
      const common = ["-m32", "-ffreestanding", "-nostdlib", "-Wall", "-Wextra", "-Werror", ...include, "-c"];
      execFileSync("gcc", [...common, "-std=gnu11", "-O2", join(dir, "t.c"), "-o", join(dir, "t.o")]);
      execFileSync("gcc", [...common, join(dir, "t.S"), "-o", join(dir, "s.o")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
