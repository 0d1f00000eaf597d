/**
 * File paths of the host: `resolve`, `join`, `dirname`, `basename`,
 * `isAbsolute` and `sep`, with the results of `node:path` for the platform.
 *
 * On POSIX systems these are written here, so that `serve` never loads
 * `node:path`: importing any `node:` module starts Deno's Node compatibility
 * layer, about 1.6 MiB of resident memory that an idle gateway keeps for
 * nothing (`bench/module_rss.ts`). On Windows, where drive letters, UNC
 * shares and per-drive working directories make the rules long, the functions
 * are `node:path`'s own (loaded there only).
 *
 * @example Usage
 * ```ts
 * import { basename, dirname, isAbsolute, join, resolve } from "./path.ts";
 * if (Deno.build.os !== "windows") {
 *   console.assert(join("/data", "inbound", "../outbound") === "/data/outbound");
 *   console.assert(resolve("/srv/wecom", "config.yaml") === "/srv/wecom/config.yaml");
 *   console.assert(dirname("/a/b/c.txt") === "/a/b" && basename("/a/b/c.txt") === "c.txt");
 *   console.assert(isAbsolute("/a") && !isAbsolute("a"));
 * }
 * ```
 *
 * @module
 */

/** The path functions this module offers, as one platform implements them. */
export interface PathFunctions {
  resolve(...segments: string[]): string;
  join(...segments: string[]): string;
  dirname(path: string): string;
  basename(path: string): string;
  isAbsolute(path: string): boolean;
  sep: string;
}

/**
 * `path` without `.` segments, empty segments and `..` that can be applied;
 * `..` that would climb above the start is kept when `aboveRoot` allows it
 * (a relative path), dropped otherwise (above `/` is `/`).
 */
function normalizeSegments(path: string, aboveRoot: boolean): string {
  const kept: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === ".." && kept.length > 0 && kept[kept.length - 1] !== "..") {
      kept.pop();
    } else if (segment !== ".." || aboveRoot) {
      kept.push(segment);
    }
  }
  return kept.join("/");
}

/** `path` normalized as `node:path/posix` `normalize` does (a trailing `/` is kept). */
function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  let body = normalizeSegments(path, !absolute);
  if (body === "" && !absolute) body = ".";
  if (body !== "" && trailing) body += "/";
  return absolute ? `/${body}` : body;
}

/** The POSIX rules, as `node:path/posix` applies them. */
export const posix: PathFunctions = {
  sep: "/",

  isAbsolute(path) {
    return path.startsWith("/");
  },

  join(...segments) {
    const joined = segments.filter((segment) => segment !== "").join("/");
    return joined === "" ? "." : normalize(joined);
  },

  resolve(...segments) {
    let path = "";
    for (let i = segments.length - 1; i >= 0 && !path.startsWith("/"); i--) {
      if (segments[i] !== "") path = path === "" ? segments[i] : `${segments[i]}/${path}`;
    }
    if (!path.startsWith("/")) path = path === "" ? Deno.cwd() : `${Deno.cwd()}/${path}`;
    return `/${normalizeSegments(path, false)}`;
  },

  dirname(path) {
    if (path === "") return ".";
    const rooted = path.startsWith("/");
    let i = path.length - 1;
    while (i >= 1 && path[i] === "/") i--; // trailing separators
    while (i >= 1 && path[i] !== "/") i--; // the last segment
    if (i < 1) return rooted ? "/" : ".";
    return rooted && i === 1 ? "//" : path.slice(0, i);
  },

  basename(path) {
    let end = path.length;
    while (end > 0 && path[end - 1] === "/") end--;
    return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
  },
};

const platform: PathFunctions = Deno.build.os === "windows" ? await import("node:path") : posix;

/** The separator of path segments: `/`, or `\` on Windows. */
export const sep: string = platform.sep;

/**
 * The absolute path that `segments` name, read right to left until one is
 * absolute, against the working directory otherwise; normalized, without a
 * trailing separator.
 */
export function resolve(...segments: string[]): string {
  return platform.resolve(...segments);
}

/** `segments` joined by the separator and normalized (`.` for nothing). */
export function join(...segments: string[]): string {
  return platform.join(...segments);
}

/** The folder part of `path` (`.` when there is none). */
export function dirname(path: string): string {
  return platform.dirname(path);
}

/** The last segment of `path`, trailing separators ignored. */
export function basename(path: string): string {
  return platform.basename(path);
}

/** Whether `path` is absolute. */
export function isAbsolute(path: string): boolean {
  return platform.isAbsolute(path);
}
