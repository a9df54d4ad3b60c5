// `npm run web`: builds the page (scripts/build-web.mjs) and serves it on 127.0.0.1, offline.
//   node scripts/serve-web.mjs [--port N] [--dir DIR] [--no-build]
// Port 8086 by default, the next free one when it is taken; --port 0 lets the OS choose. The URL is
// printed on stdout. serveStatic() is also what the web tests and the bench, profile and screenshot
// scripts use to serve a built page, and launchChromium() how they all open it.

import { createServer } from "node:http";
import { createReadStream, existsSync, statSync } from "node:fs";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { buildWeb } from "./build-web.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_PORT = 8086;

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".elf": "application/octet-stream",
};

/** Debian's Chromium (apt-get install chromium; .ci/run does), which playwright-core drives. */
export const CHROMIUM = "/usr/bin/chromium";
/**
 * How every test and script starts it: headless, no sandbox (CI runs as root), no GPU, and none of
 * Chromium's background traffic, which this machine's closed network refuses many connections at a time.
 */
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Chromium on a fresh profile folder, with CHROMIUM_FLAGS and `args`, its window 1560 pixels wide. */
export function launchChromium(profileDir, { height = 1200, args = [] } = {}) {
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, ...args], viewport: { width: 1560, height } });
}

/**
 * Serves the files under `dir` on 127.0.0.1:`port` (0: any free port). GET and HEAD only; paths
 * that leave `dir` get 404. Resolves with the base URL and a close() that stops the server.
 */
export function serveStatic(dir, port = 0) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path.endsWith("/")) path += "index.html";
    const file = normalize(join(root, path));
    if ((file !== root && !file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, {
      "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      "Content-Length": statSync(file).size,
      "Cache-Control": "no-cache",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      const address = server.address();
      resolvePromise({
        url: `http://127.0.0.1:${address.port}/`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections(); // idle keep-alive sockets would hold close() for seconds
          }),
      });
    });
  });
}

async function main(argv) {
  let port = DEFAULT_PORT;
  let dir = join(ROOT, "dist/web");
  let rebuild = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--port") port = Number(argv[++i]);
    else if (argv[i] === "--dir") dir = resolve(argv[++i]);
    else if (argv[i] === "--no-build") rebuild = false;
    else throw new Error(`serve-web: unknown argument ${argv[i]} (use --port N, --dir DIR, --no-build)`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`serve-web: bad port ${port}`);
  if (rebuild) {
    const { files } = await buildWeb({ outdir: dir });
    console.log(`built ${dir}: page.js ${(files["page.js"] / 1024).toFixed(0)} KiB, v86.wasm ${(files["v86.wasm"] / 1024).toFixed(0)} KiB`);
  }
  // Take the default port, or the next free one; an explicit --port must be free.
  for (let attempt = 0; ; attempt++) {
    try {
      const { url } = await serveStatic(dir, port === DEFAULT_PORT ? port + attempt : port);
      console.log(`buddy86 web page: ${url}  (Ctrl-C to stop)`);
      return;
    } catch (error) {
      if (error.code !== "EADDRINUSE" || port !== DEFAULT_PORT || attempt >= 20) throw error;
    }
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
