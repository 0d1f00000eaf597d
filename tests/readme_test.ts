/**
 * The README against the code: its tables render, and every task, file,
 * environment variable and CLI command it names exists.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const readme = await Deno.readTextFile(new URL("README.md", root));
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));

/** The cells of a table row; `\|` is a pipe inside a cell. */
function cells(row: string): string[] {
  return row.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/);
}

async function sourceText(): Promise<string> {
  const parts: string[] = [];
  async function walk(dir: URL) {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (entry.name.endsWith(".ts")) parts.push(await Deno.readTextFile(url));
    }
  }
  await walk(new URL("src/", root));
  parts.push(await Deno.readTextFile(new URL("main.ts", root)));
  return parts.join("\n");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(new URL(path, root)).then(() => true, () => false);
}

Deno.test("README: every table row has as many cells as its header (no stray pipe breaks a row)", () => {
  const broken: string[] = [];
  const lines = readme.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("|") || (i > 0 && lines[i - 1].startsWith("|"))) continue;
    const width = cells(lines[i]).length;
    for (let j = i + 1; j < lines.length && lines[j].startsWith("|"); j++) {
      const row = cells(lines[j]);
      // A pipe inside code splits the code span: the cell count or the backticks give it away.
      const unbalanced = row.some((cell) => (cell.match(/`/g)?.length ?? 0) % 2 === 1);
      if (row.length !== width || unbalanced) broken.push(lines[j].slice(0, 80));
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("README: every `deno task NAME` it shows is a task in deno.json", () => {
  const named = [...readme.matchAll(/deno task ([a-z:]+)/g)].map((match) => match[1]);
  assert.deepEqual(named.filter((name) => !(name in denoJson.tasks)), []);
});

Deno.test("README: every file it names or links exists in the repository", async () => {
  const paths = new Set<string>();
  for (const match of readme.matchAll(/\]\(([^)#:]+)\)/g)) paths.add(match[1]);
  for (const match of readme.matchAll(/`((?:src|bench|tests|docs)\/[\w./-]+)`/g)) {
    paths.add(match[1]);
  }
  const missing: string[] = [];
  for (const path of paths) if (!(await exists(path))) missing.push(path);
  assert.deepEqual(missing, []);
});

Deno.test("README: every environment variable it names is read by the code", async () => {
  const source = await sourceText();
  const named = new Set(
    [...readme.matchAll(/\b((?:WECOM|LOG|DENO_KV|OPENAI)_[A-Z0-9_]*[A-Z0-9])\b/g)].map((m) => m[1]),
  );
  // HTTPS_PROXY and DENO_KV_ACCESS_TOKEN are read by Deno itself.
  const unread = [...named].filter((name) =>
    name !== "DENO_KV_ACCESS_TOKEN" && !source.includes(name)
  );
  assert.deepEqual(unread, []);
});

Deno.test("README: every CLI command in its Commands table is a command of main.ts", async () => {
  const section = readme.slice(readme.indexOf("## Commands"), readme.indexOf("HTTP endpoints"));
  const commands = [...section.matchAll(/^\| `([a-z]+)/gm)].map((match) => match[1]);
  const source = await Deno.readTextFile(new URL("src/cli/main.ts", root));
  assert.deepEqual(
    commands.filter((name) => !source.includes(`"${name}"`) && !source.includes(name)),
    [],
  );
  assert.deepEqual(commands.length >= 6, true);
});

Deno.test("README: the defaults in its configuration tables are the loader's defaults", async () => {
  const { loadConfig } = await import("../src/config/load.ts");
  const cwd = await Deno.makeTempDir();
  try {
    const config = await loadConfig({
      args: [],
      cwd,
      env: {
        WECOM_CALLBACK_CORP_ID: "ww0123456789abcdef",
        WECOM_CALLBACK_CORP_SECRET: "s".repeat(43),
        WECOM_CALLBACK_AGENT_ID: "1000002",
        WECOM_CALLBACK_TOKEN: "ReadmeToken",
        WECOM_CALLBACK_ENCODING_AES_KEY: "a".repeat(43),
      },
    });
    const relative = (path: string) => "./" + path.slice(cwd.length + 1);
    const { jobs, delivery, media, welcome } = config;
    const expected: [string, string][] = [
      ["`host`, `port`, `path`", `\`${config.host}\`, \`${config.port}\`, \`${config.path}\``],
      ["`api_base`", `\`${config.apps[0].apiBase}\``],
      ["`replay_window_seconds`", `\`${config.replayWindowSeconds}\``],
      ["`gateway.kv`", `\`${relative(config.kvPath)}\``],
      ["`gateway.log_format`", `\`${config.logFormat}\``],
      ["`gateway.group_commit`", `\`${config.groupCommit}\``],
      ["`gateway.jobs.concurrency`", `\`${jobs.concurrency}\``],
      [
        "`gateway.jobs.lease_seconds`",
        `\`${jobs.leaseMs / 1000}\`, \`${jobs.maxAttempts}\`, \`${jobs.pollMs}\``,
      ],
      [
        "`gateway.jobs.working_notice_seconds`",
        `\`${
          jobs.workingNoticeMs / 1000
        }\`, "${jobs.workingNoticeText}", \`${jobs.recallWorkingNotice}\``,
      ],
      [
        "`gateway.delivery.per_minute`",
        `\`${delivery.perMinute}\`, \`${delivery.perHour}\`, \`${
          delivery.requestTimeoutMs / 1000
        }\``,
      ],
      [
        "`gateway.delivery.retry_window_minutes`",
        `\`${delivery.retryWindowMs! / 60_000}\`, \`${delivery.retryMaxBackoffMs! / 1000}\``,
      ],
      ["`agent.kind`", `\`${config.agent.kind}\``],
      ["`agent.timeout_seconds`", `\`${config.agent.timeoutMs / 1000}\``],
      [
        "`gateway.media.dir`",
        `\`${relative(media.dir)}\`, ${
          media.maxBytes / 1024 / 1024
        } MB, \`${media.retentionHours}\``,
      ],
      [
        "`welcome_text`",
        `none, \`${welcome.periodSeconds}\`, \`${welcome.onEnter}\``,
      ],
    ];
    const wrong: string[] = [];
    for (const [key, value] of expected) {
      const row = readme.split("\n").find((line) => line.startsWith(`| ${key}`));
      const shown = row ? cells(row).at(-1)!.trim() : "(no row)";
      if (shown !== value) wrong.push(`${key}: README ${shown}, loader ${value}`);
    }
    assert.deepEqual(wrong, []);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
