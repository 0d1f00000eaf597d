/**
 * What the gateway's module graph costs in memory before it does anything:
 * for each step, a fresh `deno run` (with this repository's deno.json and the
 * V8 flags of `deno task start`) imports one entry point, waits 300 ms, and
 * reports its RSS split from `/proc/self/status` (private `RssAnon`, mapped
 * files `RssFile`: mostly the deno executable's pages) and its V8 heap.
 * Baseline in the same run: the same process importing nothing. Each step
 * runs `--repeat` times (default 3), in rotated order, and the median is shown.
 *
 * Run: `deno run -A bench/module_rss.ts [--repeat 3]`
 *
 * @example Usage
 * ```sh
 * deno run -A bench/module_rss.ts --repeat 3
 * ```
 *
 * @module
 */

import { integerFlag } from "./lib/args.ts";
import { median, rotation } from "./lib/rounds.ts";
import { fmt } from "./lib/report.ts";
import { startTaskV8Flags } from "./lib/server_process.ts";

const ROOT = new URL("../", import.meta.url);

/** Credentials for a config given by variables only (in `.env`). */
const DOTENV = [
  "WECOM_CALLBACK_CORP_ID=ww0123456789abcdef",
  "WECOM_CALLBACK_CORP_SECRET=secret",
  "WECOM_CALLBACK_AGENT_ID=1000002",
  "WECOM_CALLBACK_TOKEN=token",
  `WECOM_CALLBACK_ENCODING_AES_KEY=${"a".repeat(43)}`,
].join("\\n");

/** Probe code that loads the config from a fresh directory holding `files`. */
function loadConfigIn(files: Record<string, string>): string {
  return `const cwd = await Deno.makeTempDir();\n` +
    Object.entries(files).map(([name, text]) =>
      `await Deno.writeTextFile(cwd + "/${name}", "${text}");\n`
    ).join("") +
    `await loadConfig({ cwd, env: {} });\n` +
    `await Deno.remove(cwd, { recursive: true });\n`;
}

/** Serve settings for the probe: any free port, KV in memory (the operator listener's port is added). */
const SERVE_DOTENV = [
  "WECOM_CALLBACK_PORT=0",
  "WECOM_GATEWAY_KV=:memory:",
  "LOG_LEVEL=warn",
].join("\\n");

/**
 * Probe code that starts `serve` (role all, echo agent) in a fresh directory
 * (inside the probe's own, removed at the end) holding `files`, and gives it
 * 2 s to start before the probe reads its memory.
 */
function serveIn(files: Record<string, string>, main = "m0"): string {
  return `const cwd = new URL("./serve-" + crypto.randomUUID(), import.meta.url).pathname;\n` +
    `await Deno.mkdir(cwd);\n` +
    Object.entries(files).map(([name, text]) =>
      `await Deno.writeTextFile(cwd + "/${name}", "${text}");\n`
    ).join("") +
    // The operator listener (console, /metrics) on a free port, as a real `serve` has one.
    `const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });\n` +
    `const operatorPort = (free.addr as Deno.NetAddr).port;\n` +
    `free.close();\n` +
    `await Deno.writeTextFile(cwd + "/.env", "\\nWECOM_GATEWAY_OPERATOR_PORT=" + operatorPort + "\\n", { append: true });\n` +
    `Deno.chdir(cwd);\n` +
    `${main}.main(["serve", "--role", "all"]);\n` +
    `await new Promise((r) => setTimeout(r, 2000));\n` +
    // Fails the probe (a connection refused) unless serve is up and listening.
    `(await Deno.connect({ hostname: "127.0.0.1", port: operatorPort })).close();\n`;
}

/**
 * The steps: a label, what the probe imports (in order; "" = nothing) and
 * code run afterwards (`loadConfig` is in scope when `src/config/load.ts` is
 * imported).
 */
const STEPS: [string, string[], string][] = [
  ["nothing (baseline: the deno runtime)", [], ""],
  ["an npm package (npm:yaml, as config.yaml needs)", ["npm:yaml@^2.9.1"], ""],
  [
    "src/config/load.ts, loading a config from .env only",
    ["src/config/load.ts"],
    loadConfigIn({ ".env": DOTENV }),
  ],
  [
    "src/config/load.ts, loading a config.yaml",
    ["src/config/load.ts"],
    loadConfigIn({ "config.yaml": "gateway:\\n  port: 8000\\n", ".env": DOTENV }),
  ],
  [
    "as before: load.ts with npm:yaml and npm:dotenv imported, .env only",
    ["npm:yaml@^2.9.1", "npm:dotenv@^18.0.10", "src/config/load.ts"],
    loadConfigIn({ ".env": DOTENV }),
  ],
  ["src/gateway.ts (the service, no CLI, no config loader)", ["src/gateway.ts"], ""],
  ["src/cli/serve.ts (serve alone)", ["src/cli/serve.ts"], ""],
  ["src/cli/main.ts (the CLI: every command)", ["src/cli/main.ts"], ""],
  [
    "`serve` running, config from .env only",
    ["src/cli/main.ts"],
    serveIn({ ".env": `${DOTENV}\\n${SERVE_DOTENV}` }),
  ],
  [
    "as before: `serve` running with npm:yaml and npm:dotenv imported, .env only",
    ["npm:yaml@^2.9.1", "npm:dotenv@^18.0.10", "src/cli/main.ts"],
    serveIn({ ".env": `${DOTENV}\\n${SERVE_DOTENV}` }, "m2"),
  ],
  [
    "`serve` running, with a config.yaml",
    ["src/cli/main.ts"],
    serveIn({
      ".env": `${DOTENV}\\n${SERVE_DOTENV}`,
      "config.yaml": "agent:\\n  kind: echo\\n",
    }),
  ],
];

interface Sample {
  anon: number;
  file: number;
  heapTotal: number;
}

async function probe(
  dir: string,
  [label, targets, run]: [string, string[], string],
  v8Flags: string,
): Promise<Sample> {
  const imports = targets.map((target, index) => {
    const specifier = target.startsWith("npm:") ? target : new URL(target, ROOT).href;
    return `const m${index} = await import(${JSON.stringify(specifier)});\n`;
  }).join("");
  const scope = targets.includes("src/config/load.ts")
    ? `const { loadConfig } = m${targets.indexOf("src/config/load.ts")};\n`
    : "";
  const script = `${dir}/probe-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    script,
    imports + scope + run +
      `await new Promise((r) => setTimeout(r, 300));\n` +
      `const status = await Deno.readTextFile("/proc/self/status");\n` +
      `const kib = (f: string) => Number(new RegExp("^" + f + ":\\\\s+(\\\\d+)", "m").exec(status)?.[1]);\n` +
      `console.log(JSON.stringify({ anon: kib("RssAnon") / 1024, file: kib("RssFile") / 1024, ` +
      `heapTotal: Deno.memoryUsage().heapTotal / 2 ** 20 }));\n` +
      `Deno.exit(0);\n`,
  );
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      "--config",
      new URL("deno.json", ROOT).pathname,
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  if (code !== 0) {
    throw new Error(
      `Cannot measure '${label}' as its probe exited with code ${code}: ${
        new TextDecoder().decode(stderr).slice(-500)
      }`,
    );
  }
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Sample;
}

async function main(args: string[]): Promise<number> {
  const repeat = integerFlag(args, "repeat", 3, { script: "the module memory benchmark" });
  const v8Flags = await startTaskV8Flags();
  const dir = await Deno.makeTempDir({ prefix: "wecom-module-rss-" });
  const samples = new Map<string, Sample[]>(STEPS.map(([label]) => [label, []]));
  try {
    for (let round = 0; round < repeat; round++) {
      for (const step of rotation(STEPS, round)) {
        samples.get(step[0])!.push(await probe(dir, step, v8Flags));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const med = (label: string, pick: (s: Sample) => number) => median(samples.get(label)!.map(pick));
  const base = STEPS[0][0];
  const baseTotal = med(base, (s) => s.anon + s.file);
  console.log(
    `Module graph memory, median of ${repeat} fresh processes per step (V8 flags: ${
      v8Flags || "none"
    })\n`,
  );
  console.log(
    "| imports | RSS MiB | vs nothing | private MiB | mapped files MiB | V8 heap total MiB |",
  );
  console.log("|---|--:|--:|--:|--:|--:|");
  for (const [label] of STEPS) {
    const total = med(label, (s) => s.anon + s.file);
    console.log(
      `| ${label} | ${fmt(total)} | ${label === base ? "" : `+${fmt(total - baseTotal)}`} | ${
        fmt(med(label, (s) => s.anon))
      } | ${fmt(med(label, (s) => s.file))} | ${fmt(med(label, (s) => s.heapTotal))} |`,
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
