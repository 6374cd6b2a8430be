// Builds every staff page under web/<page>/ (a folder with main.jsx and index.html) into web/dist/<page>/,
// which the gateway serves at /<page> and /ui/<page>/. `--if-changed` skips the build when dist/.stamp
// already holds the hash of the sources and the lock file (setup and the browser tests call it so).
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = dirname(fileURLToPath(import.meta.url));
const DIST = join(ROOT, "dist");
const SKIP = new Set(["node_modules", "dist", "dist.next"]);

function sourceFiles(dir = ROOT) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else found.push(path);
  }
  return found;
}

function sourceHash() {
  const hash = createHash("sha256");
  for (const path of sourceFiles()) hash.update(relative(ROOT, path) + "\0").update(readFileSync(path));
  return hash.digest("hex").slice(0, 16);
}

function pages() {
  return readdirSync(ROOT).filter((name) => existsSync(join(ROOT, name, "main.jsx")) && existsSync(join(ROOT, name, "index.html")));
}

async function build() {
  const stamp = join(DIST, ".stamp");
  const hash = sourceHash();
  if (process.argv.includes("--if-changed") && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
    console.log(`web: up to date (${hash})`);
    return;
  }
  // Built beside dist/ and swapped in, so a failing page never leaves the served folder half-written;
  // each page builds on its own, so one page's error does not take the others down with it.
  const next = DIST + ".next";
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  const failed = [];
  for (const page of pages()) {
    const out = join(next, page);
    mkdirSync(out, { recursive: true });
    try {
      await esbuild.build({
        entryPoints: [join(ROOT, page, "main.jsx")],
        outfile: join(out, "app.js"),
        bundle: true,
        minify: true,
        sourcemap: true,
        format: "esm",
        target: ["chrome110", "firefox110", "safari16"],
        jsx: "automatic",
        jsxImportSource: "preact",
        loader: { ".js": "jsx" },
        legalComments: "linked",
        logLevel: "error",
      });
    } catch (err) {
      failed.push(page);
      continue;
    }
    cpSync(join(ROOT, page, "index.html"), join(out, "index.html"));
    for (const extra of readdirSync(join(ROOT, page)).filter((n) => /\.(css|svg|mp3|wav|ogg)$/.test(n))) {
      cpSync(join(ROOT, page, extra), join(out, extra));
    }
  }
  const lib = join(ROOT, "lib");
  for (const shared of (existsSync(lib) ? readdirSync(lib) : []).filter((n) => /\.(css|svg|wav)$/.test(n))) {
    mkdirSync(join(next, "lib"), { recursive: true });
    cpSync(join(lib, shared), join(next, "lib", shared));
  }
  // The gateway serves dist/ itself (its static route holds the path), so its content is replaced in place.
  mkdirSync(DIST, { recursive: true });
  for (const name of readdirSync(DIST)) rmSync(join(DIST, name), { recursive: true, force: true });
  for (const name of readdirSync(next)) cpSync(join(next, name), join(DIST, name), { recursive: true });
  rmSync(next, { recursive: true, force: true });
  if (failed.length) {
    console.error(`web: FAILED ${failed.join(", ")} (other pages built; no stamp written)`);
    process.exit(1);
  }
  writeFileSync(stamp, hash + "\n");
  console.log(`web: built ${pages().join(", ")} (${hash})`);
}

build().catch((err) => { console.error(err); process.exit(1); });
