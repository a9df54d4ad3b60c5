// The JIT module cache (src/host/wasm-cache.ts, wired into v86 by cacheJitModules in v86-cpu.ts):
// exact bytes in, the same compiled module out; anything else compiled anew; bounded; failures not
// kept. And in a real run: the bundled guest booted twice in one process, the second run takes v86's
// JIT modules from the cache and ends exactly as the first.

import { describe, expect, it } from "vitest";
import { WasmModuleCache, jitModuleCache } from "../src/host/wasm-cache.js";
import { runMachine } from "../src/machine/index.js";
import { nodePlatform, readBytes } from "../src/host/node-platform.js";

/** An empty wasm module with one custom section named by `tag`: valid, and different per tag. */
function moduleBytes(tag: number, padding = 0): Uint8Array {
  const name = [65 + (tag % 26), ...new Array<number>(padding).fill(66)];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, name.length + 1, name.length, ...name]);
}

describe("WasmModuleCache", () => {
  it("answers the same bytes with the same module, and other bytes with another", async () => {
    const cache = new WasmModuleCache();
    const a = await cache.module(moduleBytes(1));
    expect(a).toBeInstanceOf(WebAssembly.Module);
    expect(await cache.module(moduleBytes(1))).toBe(a);
    const b = await cache.module(moduleBytes(2));
    expect(b).not.toBe(a);
    expect(WebAssembly.Module.customSections(b, "C").length).toBe(1);
    expect({ hits: cache.hits, misses: cache.misses, size: cache.size }).toEqual({ hits: 1, misses: 2, size: 2 * moduleBytes(1).length });
  });

  it("keeps its own copy: the caller may reuse the memory it passed at once", async () => {
    const cache = new WasmModuleCache();
    const bytes = moduleBytes(3);
    const first = cache.module(bytes);
    bytes.set(moduleBytes(4));
    expect(WebAssembly.Module.customSections(await first, "D").length).toBe(1);
    expect(await cache.module(moduleBytes(3))).toBe(await first);
    expect(await cache.module(bytes)).not.toBe(await first);
  });

  it("forgets a compilation that failed, and starts over past its byte budget", async () => {
    const cache = new WasmModuleCache(3 * moduleBytes(0, 10).length);
    const bad = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00]);
    await expect(cache.module(bad)).rejects.toThrow();
    expect(cache.size).toBe(0);
    await expect(cache.module(bad)).rejects.toThrow();
    expect(cache.misses).toBe(2);
    for (let tag = 0; tag < 3; tag++) await cache.module(moduleBytes(tag, 10));
    expect(cache.size).toBe(3 * moduleBytes(0, 10).length);
    const first = await cache.module(moduleBytes(0, 10));
    expect(cache.hits).toBe(1);
    // A fourth module does not fit: the cache starts over with it alone.
    await cache.module(moduleBytes(3, 10));
    expect(cache.size).toBe(moduleBytes(0, 10).length);
    expect(await cache.module(moduleBytes(0, 10))).not.toBe(first);
  });
});

describe("v86's JIT modules in a real run", () => {
  it("a second boot in the same process takes them from the cache and ends exactly as the first", async () => {
    const kernel = readBytes(new URL("../images/buddy86-guest.elf", import.meta.url).pathname);
    const boot = async () => {
      const before = { hits: jitModuleCache.hits, misses: jitModuleCache.misses };
      const r = await runMachine({ kernel, platform: nodePlatform(), cmdline: "workload=churn ops=100000 seed=3", timeoutMs: 120_000 });
      expect(r.reason, r.message).toBe("exit");
      return { r, hits: jitModuleCache.hits - before.hits, misses: jitModuleCache.misses - before.misses };
    };
    const first = await boot();
    const second = await boot();
    // The churn loop is hot enough for v86 to compile it: the first run compiled (or, after another
    // test in this process, reused) at least one module; the second found every one it asked for
    // that the first had compiled.
    expect(first.hits + first.misses).toBeGreaterThan(0);
    expect(second.hits).toBeGreaterThan(0);
    expect(second.hits).toBeGreaterThanOrEqual(first.hits + first.misses - 1);
    expect(second.r.exitCode).toBe(0);
    expect(second.r.counters.calls).toEqual(first.r.counters.calls);
    expect(second.r.allocator!.buddyinfo()).toBe(first.r.allocator!.buddyinfo());
  }, 240_000);
});
