import assert from "node:assert/strict";
import nodePosix from "node:path/posix";
import * as path from "../src/path.ts";

/** Paths where POSIX rules have corners: roots, doubled and trailing separators, dots. */
const CORNERS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///",
  "a",
  "a/",
  "/a",
  "//a",
  "//a/b",
  "/a//b",
  "/a//b//",
  "a/b/c",
  "./a",
  "../a",
  "a/../..",
  "/..",
  "/../a",
  "/a/b/../../..",
  "a/./b/.",
  "...",
  "a/.../b",
  ".a/..b/",
  "名字/附件.txt",
  "dir with space/x",
];

/** Random paths from pieces that exercise the same corners, deterministic per seed. */
function randomPaths(count: number, seed: number): string[] {
  const pieces = ["a", "bc", ".", "..", "...", "", "/", "//", ".x"];
  let state = seed;
  const next = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31);
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = next() % 7;
    let text = "";
    for (let j = 0; j < length; j++) {
      text += pieces[next() % pieces.length] + (next() % 2 ? "/" : "");
    }
    paths.push(text);
  }
  return paths;
}

const INPUTS = [...CORNERS, ...randomPaths(2_000, 7)];

Deno.test("path (POSIX): dirname, basename and isAbsolute give node:path/posix's answers", () => {
  for (const input of INPUTS) {
    assert.equal(
      path.posix.dirname(input),
      nodePosix.dirname(input),
      `dirname(${JSON.stringify(input)})`,
    );
    assert.equal(
      path.posix.basename(input),
      nodePosix.basename(input),
      `basename(${JSON.stringify(input)})`,
    );
    assert.equal(
      path.posix.isAbsolute(input),
      nodePosix.isAbsolute(input),
      `isAbsolute(${JSON.stringify(input)})`,
    );
  }
});

Deno.test("path (POSIX): join and resolve of one, two and three segments give node:path/posix's answers", () => {
  const seeds = INPUTS.slice(0, 400);
  for (let i = 0; i < seeds.length; i++) {
    const a = seeds[i];
    const b = seeds[(i * 7 + 3) % seeds.length];
    const c = seeds[(i * 13 + 5) % seeds.length];
    for (const args of [[a], [a, b], [a, b, c], [], ["/base", a]]) {
      const shown = JSON.stringify(args);
      assert.equal(path.posix.join(...args), nodePosix.join(...args), `join(${shown})`);
      assert.equal(path.posix.resolve(...args), nodePosix.resolve(...args), `resolve(${shown})`);
    }
  }
});

Deno.test({
  name:
    "path: relative paths resolve against the working directory, as the config loader and the attachments store need",
  ignore: Deno.build.os === "windows",
  fn: () => {
    assert.equal(path.resolve("config.yaml"), `${Deno.cwd()}/config.yaml`);
    assert.equal(path.resolve(""), Deno.cwd());
    assert.equal(path.resolve("/srv/wecom", "../etc", "config.yaml"), "/srv/etc/config.yaml");
    // A root above which `..` cannot climb: the containment check of the attachments store relies on it.
    assert.equal(path.resolve("/uploads", "../../../etc/passwd"), "/etc/passwd");
    assert.equal(path.join("/uploads", "../../../etc/passwd"), "/etc/passwd");
    assert.equal(path.sep, "/");
  },
});
