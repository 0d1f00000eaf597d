/**
 * The `demo` command and `serve`'s demo mode, run as the user runs them: a
 * `deno run main.ts …` subprocess.
 *
 * @module
 */

import assert from "node:assert/strict";
import { importAppCrypto } from "../../src/crypto/mod.ts";
import { sealCallback, textMessage } from "../../src/simulator/seal.ts";
import { runScript } from "../../src/cli/demo_script.ts";
import { demoMedia } from "../../src/simulator/media_samples.ts";
import { startDemo } from "../../src/simulator/demo.ts";
import { setLogSink } from "../../src/log.ts";
import { waitFor } from "../lib/wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const CONFIG = `${ROOT}deno.json`;
const decoder = new TextDecoder();

/** What a `deno run` subprocess needs from the environment, and nothing else. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  // No operator listener: its default port is fixed, and tests run side by side.
  const env: Record<string, string> = { NO_COLOR: "1", WECOM_GATEWAY_OPERATOR_PORT: "0" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

function denoRun(args: string[], options: Deno.CommandOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", CONFIG, "--unstable-kv", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...options,
  });
}

async function run(
  args: string[],
  options: Deno.CommandOptions & { input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { input, ...commandOptions } = options;
  const child = denoRun(args, { ...commandOptions, stdin: input === undefined ? "null" : "piped" })
    .spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const result = await child.output();
  return {
    code: result.code,
    stdout: decoder.decode(result.stdout),
    stderr: decoder.decode(result.stderr),
  };
}

Deno.test("`demo` runs the scripted conversation and exits 0", async () => {
  const { code, stdout, stderr } = await run(["demo"], { env: bareEnv() });
  assert.deepStrictEqual({ code, stderr }, { code: 0, stderr: "" });
  assert.match(stdout, /simulated WeCom API\s+http:\/\/127\.0\.0\.1:\d+/);
  assert.match(stdout, /gateway\s+http:\/\/127\.0\.0\.1:\d+\/wecom\/callback/);
  assert.match(stdout, /user → gateway {3}text "你好, WeCom!"\s+→ HTTP 200/);
  assert.match(stdout, /gateway → user {3}text "你好, WeCom!"/);
  // WeCom's retries: three POSTs, one reply.
  assert.ok((stdout.match(/WeCom's retry \d/g) ?? []).length === 2);
  assert.match(stdout, /exactly 1 reply/);
  // The long message: parts of at most 2048 bytes, in order.
  const parts = [...stdout.matchAll(/part (\d)\/(\d): (\d+) bytes/g)];
  assert.ok(parts.length >= 3, stdout);
  parts.forEach((part, i) => {
    assert.deepStrictEqual(Number(part[1]), i + 1);
    assert.ok(Number(part[3]) <= 2048);
  });
  // Media: each file is served by the simulated WeCom, downloaded by the gateway, named in the reply.
  assert.match(stdout, /user → gateway {3}image demo\.png \(70 bytes, image\/png\)/);
  assert.match(stdout, /│ \[image\] media_id=\S+ url=\S+ file=\S+\.png size=70 type=image\/png\n/);
  assert.match(
    stdout,
    /│ \[voice\] media_id=\S+ format=amr file=\S+\.amr size=3206 type=audio\/amr\n/,
  );
  assert.match(stdout, /│ \[video\] .* file=\S+\.mp4 size=4096 type=video\/mp4\n/);
  assert.deepStrictEqual(
    (stdout.match(/✓ the gateway downloaded the (image|voice|video)/g) ?? []).length,
    3,
  );
  assert.match(stdout, /Done: 6 exchanges/);
  // Quiet by default: no info lines of the gateway's log.
  assert.ok(!/ INFO /.test(stdout), stdout);
});

Deno.test("`demo` exits 1 and says which reply did not arrive in time", async () => {
  const { code, stdout, stderr } = await run(["demo", "--timeout", "0.001"], { env: bareEnv() });
  assert.deepStrictEqual(code, 1, stdout);
  assert.match(stderr, /✗ No complete reply reached 'demo-user' within 1 ms/);
  assert.match(stderr, /The demo failed at step 1 \(A text message\)/);
  assert.ok(!stdout.includes("Done:"), stdout);
});

Deno.test("a media step whose download fails is shown as ✗, never ✓, and the demo exits 1", async () => {
  const previous = setLogSink({ format: "human", level: "error", write: () => {} });
  const demo = await startDemo();
  try {
    demo.api.inject("media", Array(10).fill({ errcode: 40007 }));
    const lines: { stream: "out" | "err"; text: string }[] = [];
    const code = await runScript(demo, {
      out: (text) => lines.push({ stream: "out", text }),
      err: (text) => lines.push({ stream: "err", text }),
    });
    assert.deepStrictEqual(code, 1);
    const text = lines.map((line) => line.text).join("\n");
    const step4 = text.slice(text.indexOf("4. An image"));
    assert.ok(!step4.includes("✓"), step4);
    assert.match(
      step4,
      /✗ expected one reply naming the downloaded file \(size=70 type=image\/png\)/,
    );
    assert.match(text, /The demo failed at step 4/);
    // Steps 1 to 3 passed before it (positive control).
    assert.deepStrictEqual((text.match(/✓/g) ?? []).length, 3);
  } finally {
    await demo.close();
    setLogSink(previous);
  }
});

Deno.test("`demo --verbose` shows the gateway's log", async () => {
  const { code, stdout } = await run(["demo", "--verbose"], { env: bareEnv() });
  assert.deepStrictEqual(code, 0);
  assert.match(stdout, / INFO {2}callback recorded /);
});

Deno.test("`demo --interactive` sends each line of stdin and ends at EOF", async () => {
  const { code, stdout, stderr } = await run(["demo", "--interactive"], {
    env: bareEnv(),
    input: "hello from a pipe\n/help\n",
  });
  assert.deepStrictEqual({ code, stderr }, { code: 0, stderr: "" });
  assert.match(stdout, /user → gateway {3}text "hello from a pipe"\s+→ HTTP 200/);
  assert.match(stdout, /gateway → user {3}text "hello from a pipe"/);
  assert.match(stdout, /│ Commands:/);
  assert.match(stdout, /│ \/status/);
  assert.match(stdout, /Bye\.\n$/);
});

Deno.test("`demo -i` stops at /quit and sends nothing after it", async () => {
  const { code, stdout } = await run(["demo", "-i"], {
    env: bareEnv(),
    input: "first\n/quit\nafter quit\n",
  });
  assert.deepStrictEqual(code, 0);
  assert.match(stdout, /gateway → user {3}text "first"/);
  assert.ok(!stdout.includes("after quit"), stdout);
});

Deno.test("`demo --help` explains the command; a wrong option exits 2 and says where to look", async () => {
  const help = await run(["demo", "--help"], { env: bareEnv() });
  assert.deepStrictEqual(help.code, 0);
  assert.match(help.stdout, /Usage: wecom-gateway demo/);
  assert.match(help.stdout, /--interactive/);
  const listed = await run(["--help"], { env: bareEnv() });
  assert.match(listed.stdout, /\n {2}demo {2}/);
  const wrong = await run(["demo", "--nope"], { env: bareEnv() });
  assert.deepStrictEqual(wrong.code, 2);
  assert.match(wrong.stderr, /--nope/);
  assert.match(wrong.stderr, /demo --help/);
});

/** A port that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Reads a stream into a growing string; `until` waits for a pattern. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return {
    text: () => text,
    done,
    async until(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
      const seen: { found: RegExpMatchArray | null } = { found: null };
      await waitFor(
        () => (seen.found = text.match(pattern)) !== null,
        () => `${pattern}; output so far:\n${text}`,
        timeoutMs,
        25,
      );
      return seen.found!;
    },
  };
}

Deno.test("`serve` with no configuration says what to set, then serves in demo mode until SIGTERM", async () => {
  const cwd = await Deno.makeTempDir();
  const port = freePort();
  const child = denoRun(["serve"], {
    cwd,
    clearEnv: true,
    env: bareEnv({ WECOM_CALLBACK_PORT: String(port) }),
  }).spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let signalled = false;
  try {
    await stdout.until(/To talk to this instance[^\n]*\n.*--aes-key \S+/);
    for (
      const name of [
        "WECOM_CALLBACK_CORP_ID",
        "WECOM_CALLBACK_CORP_SECRET",
        "WECOM_CALLBACK_AGENT_ID",
        "WECOM_CALLBACK_TOKEN",
        "WECOM_CALLBACK_ENCODING_AES_KEY",
      ]
    ) {
      assert.ok(stderr.text().includes(name), `missing ${name} in:\n${stderr.text()}`);
    }
    // It starts, so nothing says it cannot.
    assert.ok(!/Cannot start/.test(stderr.text() + stdout.text()), stderr.text());
    assert.match(stderr.text(), /^No WeCom app is configured\./);
    const out = stdout.text();
    assert.ok(
      out.indexOf("Starting in demo mode with a simulated WeCom") < out.indexOf("DEMO MODE"),
      out,
    );
    assert.match(out, /listening on: +0\.0\.0\.0:\d+/);
    assert.match(out, /DEMO-ONLY keys/);
    assert.match(out, new RegExp(`KV ${cwd}/data/`));

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.deepStrictEqual(await health.json(), { status: "ok" });

    // The printed command's keys reach this instance: a message sealed with them is answered.
    const [, url, corpId, agentId, token, aesKey] = out.match(
      /--url (\S+) --corp-id (\S+) --agent-id (\S+) --token (\S+) --aes-key (\S+)/,
    )!;
    assert.deepStrictEqual(url, `http://127.0.0.1:${port}/wecom/callback`);
    const app = await importAppCrypto(aesKey, token, corpId);
    const xml = textMessage({
      corpId,
      agentId,
      userId: "tester",
      content: "ping through serve's demo mode",
      msgId: "4242",
    });
    const sealed = await sealCallback(app, xml, { corpId, agentId });
    const response = await fetch(`${url}?${sealed.query}`, { method: "POST", body: sealed.body });
    assert.deepStrictEqual([response.status, await response.text()], [200, ""]);
    await stdout.until(/gateway → tester {3}text "ping through serve's demo mode"/);

    // The printed one-line command works as printed.
    const line = out.match(/(?:deno|npx --yes deno@[\d.]+) task cli (simulate send [^\n]+)/)![1];
    const words = line.match(/"(?:[^"\\]|\\.)*"|\S+/g)!.map((word) =>
      word.startsWith('"') ? JSON.parse(word) as string : word
    );
    const simulated = await run(words, { env: bareEnv() });
    assert.deepStrictEqual(simulated.code, 0, simulated.stdout + simulated.stderr);
    await stdout.until(/gateway → demo-user {3}text "你好"/);

    // The printed file command, with a PNG in place of PATH: uploaded to the simulated WeCom,
    // downloaded by the gateway, and the echo agent names the file it got.
    const fileLine = out.match(/task cli (simulate send [^\n]+--file PATH[^\n]+)/)![1];
    const png = demoMedia("image");
    await Deno.writeFile(`${cwd}/photo.png`, png.bytes);
    const fileWords = fileLine.replace("PATH", `${cwd}/photo.png`).split(" ");
    const uploaded = await run(fileWords, { env: bareEnv() });
    assert.deepStrictEqual(uploaded.code, 0, uploaded.stdout + uploaded.stderr);
    assert.match(uploaded.stdout, /Uploading photo\.png \(70 bytes\)/);
    await stdout.until(
      new RegExp(`gateway → demo-user {3}text "\\[image\\] media_id=.*size=${png.bytes.length}`),
    );

    child.kill("SIGTERM");
    signalled = true;
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    assert.deepStrictEqual(status.code, 0, `stderr:\n${stderr.text()}`);
    assert.match(stdout.text(), /Stopping the demo/);
  } finally {
    if (!signalled) {
      child.kill("SIGKILL");
      await child.status;
      await Promise.all([stdout.done, stderr.done]);
    }
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("`serve --role edge` with no configuration does not start a demo", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await run(["serve", "--role", "edge"], {
      cwd,
      clearEnv: true,
      env: bareEnv(),
    });
    assert.deepStrictEqual(code, 2);
    assert.match(stderr, /WECOM_CALLBACK_CORP_ID/);
    assert.ok(!stdout.includes("demo mode"), stdout);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("`serve` with a wrong setting besides no app explains and exits 2 (no demo)", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await run(["serve"], {
      cwd,
      clearEnv: true,
      env: bareEnv({ WECOM_CALLBACK_PORT: "eighty" }),
    });
    assert.deepStrictEqual(code, 2);
    assert.match(stderr, /WECOM_CALLBACK_PORT/);
    assert.ok(!stdout.includes("demo mode"), stdout);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
