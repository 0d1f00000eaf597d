import assert from "node:assert/strict";
import { captureContext } from "../../src/cli/context.ts";
import { createSimulateCommand } from "../../src/cli/simulate.ts";
import type { AppConfig } from "../../src/config/types.ts";
import { decrypt, importAppCrypto } from "../../src/crypto/mod.ts";
import { type Gateway, startGateway } from "../../src/gateway.ts";
import { listJobs } from "../../src/records/job_store/mod.ts";
import { type LogSink, setLogSink } from "../../src/log.ts";
import { randomApp, testConfig } from "../fakes/config.ts";
import { dotenv, runCli, workdir } from "./run_cli.ts";
import { startDemo } from "../../src/simulator/demo.ts";
import { amr, gif } from "../../src/simulator/media_samples.ts";
import { waitFor } from "../lib/wait.ts";

const APP: AppConfig = randomApp({ name: "default" });

/** The options that give an app's Token, EncodingAESKey and CorpID (and AgentID when known). */
function credentials(
  app: Pick<AppConfig, "token" | "encodingAesKey" | "corpId"> & { agentId?: string },
): string[] {
  const agent = app.agentId === undefined ? [] : ["--agent-id", app.agentId];
  return ["--token", app.token, "--aes-key", app.encodingAesKey, "--corp-id", app.corpId, ...agent];
}

const CREDENTIALS = credentials(APP);

/** APP as the WECOM_CALLBACK_* variables, KV in memory. */
const APP_ENV: Record<string, string> = {
  WECOM_CALLBACK_CORP_ID: APP.corpId,
  WECOM_CALLBACK_CORP_SECRET: APP.corpSecret,
  WECOM_CALLBACK_AGENT_ID: APP.agentId,
  WECOM_CALLBACK_TOKEN: APP.token,
  WECOM_CALLBACK_ENCODING_AES_KEY: APP.encodingAesKey,
  WECOM_GATEWAY_KV: ":memory:",
};
const SECRETS = [APP.token, APP.encodingAesKey, APP.corpSecret];

/** Runs `simulate` in-process; `deadlineMs` stands in for WeCom's 1 s. */
async function simulate(
  args: string[],
  options: { env?: Record<string, string>; deadlineMs?: number } = {},
) {
  const { context, stdout, stderr } = captureContext({ env: options.env ?? {} });
  const code = await createSimulateCommand({ context, verifyDeadlineMs: options.deadlineMs })
    .run(args);
  const all = stdout() + stderr();
  for (const secret of SECRETS) assert.ok(!all.includes(secret), "a secret reached the output");
  return { code, stdout: stdout(), stderr: stderr(), all };
}

/** A real gateway (callback endpoint only: role edge) on 127.0.0.1, port 0, KV in memory. */
async function gateway(): Promise<
  { gw: Gateway; url: string; kv: Deno.Kv; stop(): Promise<void> }
> {
  const kv = await Deno.openKv(":memory:");
  const quiet: LogSink = { format: "human", level: "error", write: () => {} };
  const previous = setLogSink(quiet);
  const config = await testConfig([APP]);
  const gw = await startGateway(config, { role: "edge", kv });
  return {
    gw,
    kv,
    url: `http://127.0.0.1:${gw.address!.port}${config.path}`,
    async stop() {
      await gw.stop();
      kv.close();
      setLogSink(previous);
    },
  };
}

/**
 * A server that decrypts the echostr like a gateway would and answers with
 * `answer(plaintext, echostr)`: each misbehaves in its own way.
 */
async function misbehaving(
  answer: (plain: string, echostr: string) => Response | Promise<Response>,
) {
  const crypto = await importAppCrypto(APP.encodingAesKey, APP.token, APP.corpId);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const echostr = new URL(request.url).searchParams.get("echostr") ?? "";
    const { message } = await decrypt(crypto, echostr);
    return await answer(message, echostr);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/wecom/callback`,
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}

async function verifyAgainst(
  answer: (plain: string, echostr: string) => Response | Promise<Response>,
  deadlineMs?: number,
) {
  const server = await misbehaving(answer);
  try {
    return await simulate(["verify", "--url", server.url, ...CREDENTIALS], { deadlineMs });
  } finally {
    await server.close();
  }
}

/** A port on 127.0.0.1 where nothing listens. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("simulate --help and send --help (subprocess) list the subcommands and options", async () => {
  const top = await runCli(["simulate", "--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /simulate send/);
  assert.match(top.stdout, /simulate verify/);
  const send = await runCli(["simulate", "send", "--help"]);
  assert.equal(send.code, 0);
  assert.match(send.stdout, /--msg-id N/);
  assert.match(send.stdout, /--event NAME/);
  const verify = await runCli(["simulate", "verify", "--help"]);
  assert.equal(verify.code, 0);
  assert.match(verify.stdout, /will not save/);
});

Deno.test("simulate verify (subprocess) passes against a real gateway, credentials from .env", async () => {
  const gw = await gateway();
  const dir = await workdir();
  try {
    await Deno.writeTextFile(`${dir}/.env`, dotenv(APP_ENV));
    const result = await runCli(["simulate", "verify", "--url", gw.url], { cwd: dir });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /HTTP 200 in \d+ ms, body "\d{19}"/);
    assert.match(result.stdout, /OK: The URL answers WeCom's verification correctly/);
    assert.match(result.stdout, /note: 127\.0\.0\.1 is a local or private address/);
    for (const secret of SECRETS) assert.ok(!(result.stdout + result.stderr).includes(secret));
  } finally {
    await gw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate verify: a gateway with another token answers 403, diagnosed as a mismatch", async () => {
  const gw = await gateway();
  try {
    const other = randomApp();
    const result = await simulate([
      "verify",
      "--url",
      gw.url,
      ...credentials({ ...other, corpId: APP.corpId }),
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /HTTP 403/);
    assert.match(result.stdout, /FAIL \(forbidden\)/);
    assert.match(result.stdout, /Token and EncodingAESKey/);
    assert.match(result.stdout, /The server said: "The signature does not match/);
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate verify: a wrong path on the gateway is a 404 naming the configured path", async () => {
  const gw = await gateway();
  try {
    const wrong = gw.url.replace("/wecom/callback", "/callback");
    const result = await simulate(["verify", "--url", wrong], { env: APP_ENV });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL \(not_found\): Nothing answers at the path \/callback/);
    assert.match(result.stdout, /callback path is \/wecom\/callback/);
    assert.match(result.stdout, /The gateway itself answered, so host and port are right/);
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate verify diagnoses a body in quotes (a JSON framework answered)", async () => {
  const result = await verifyAgainst((plain) => Response.json(plain));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(quotes\)/);
  assert.match(result.stdout, /without quotes/);
});

Deno.test("simulate verify diagnoses a trailing newline", async () => {
  const result = await verifyAgainst((plain) => new Response(plain + "\n"));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(newline\)/);
  assert.match(result.stdout, /body "\d{19}\\n"/);
});

Deno.test("simulate verify diagnoses a UTF-8 BOM before the plaintext", async () => {
  const result = await verifyAgainst((plain) => new Response("\uFEFF" + plain));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(bom\)/);
  assert.match(result.stdout, /byte-order mark/);
});

Deno.test("simulate verify diagnoses JSON around the plaintext", async () => {
  const result = await verifyAgainst((plain) => Response.json({ echostr: plain }));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(json\): The body is JSON that contains the plaintext/);
});

Deno.test("simulate verify diagnoses an HTML page: another program answered", async () => {
  const result = await verifyAgainst(() =>
    new Response("<!DOCTYPE html><html><body>Welcome to nginx!</body></html>", {
      headers: { "content-type": "text/html" },
    })
  );
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(html\)/);
  assert.match(result.stdout, /Another program answered instead of the gateway/);
});

Deno.test("simulate verify diagnoses an echostr returned without decrypting it", async () => {
  const result = await verifyAgainst((_plain, echostr) => new Response(echostr));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(still_encrypted\)/);
});

Deno.test("simulate verify fails a right answer slower than the deadline", async () => {
  const result = await verifyAgainst(async (plain) => {
    await new Promise((resolve) => setTimeout(resolve, 150));
    return new Response(plain);
  }, 50);
  assert.equal(result.code, 1);
  assert.match(
    result.stdout,
    /FAIL \(slow\): The answer is right but took \d+ ms; WeCom gives up after 50 ms/,
  );
});

Deno.test("simulate verify reports a redirect, which WeCom does not follow", async () => {
  const result = await verifyAgainst(() =>
    new Response(null, {
      status: 301,
      headers: { location: "https://gw.example.com/wecom/callback" },
    })
  );
  assert.equal(result.code, 1);
  assert.match(
    result.stdout,
    /FAIL \(redirect\): The URL redirects \(HTTP 301\) to https:\/\/gw\.example\.com/,
  );
});

Deno.test("simulate verify reports a reverse proxy whose gateway is down (502)", async () => {
  const result = await verifyAgainst(() => new Response("Bad Gateway", { status: 502 }));
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(server_error\)/);
  assert.match(result.stdout, /gateway behind it is not running/);
});

Deno.test("simulate verify: nothing listening is a refused connection, not reachable", async () => {
  const url = `http://127.0.0.1:${closedPort()}/wecom/callback`;
  const result = await simulate(["verify", "--url", url, ...CREDENTIALS]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \(refused\): Connection refused/);
  assert.match(result.stdout, /WeCom must reach this URL from the internet/);
});

Deno.test("simulate verify: a server that never answers times out", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/wecom/callback`;
    const result = await simulate(["verify", "--url", url, "--timeout", "200", ...CREDENTIALS]);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /FAIL \(timeout\): No answer from 127\.0\.0\.1:\d+ in time \(waited 200 ms/,
    );
    assert.match(result.stdout, /firewall/);
  } finally {
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
  }
});

Deno.test("simulate verify: https:// to a plain-HTTP port is a TLS failure", async () => {
  const server = await misbehaving((plain) => new Response(plain));
  try {
    const url = server.url.replace("http://", "https://");
    const result = await simulate(["verify", "--url", url, ...CREDENTIALS]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL \(tls\): The TLS \(HTTPS\) connection/);
  } finally {
    await server.close();
  }
});

Deno.test("simulate verify: an unknown host is a DNS failure", async () => {
  const result = await simulate([
    "verify",
    "--url",
    "http://wecom-gateway-test.invalid/wecom/callback",
    "--timeout",
    "3000",
    ...CREDENTIALS,
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAIL \((dns|timeout)\)/);
});

Deno.test("simulate send posts a sealed text message the gateway records; a repeated MsgId is deduplicated", async () => {
  const gw = await gateway();
  try {
    const args = ["send", "--url", gw.url, "--text", "你好 from simulate", "--user", "lisi"];
    const first = await simulate([...args, "--msg-id", "7000000000000000001", ...CREDENTIALS]);
    assert.equal(first.code, 0, first.all);
    assert.match(
      first.stdout,
      /POST http:\/\/127\.0\.0\.1:\d+\/wecom\/callback: text message of 20 bytes/,
    );
    assert.match(first.stdout, /HTTP 200 in \d+ ms/);
    assert.match(first.stdout, /OK: Accepted/);
    const again = await simulate([...args, "--msg-id", "7000000000000000001", ...CREDENTIALS]);
    assert.equal(again.code, 0);
    const jobs = await listJobs(gw.kv);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].conversation, `${APP.corpId}:lisi`);
    assert.deepEqual(
      jobs[0].message.type === "text" ? jobs[0].message.content : null,
      "你好 from simulate",
    );
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate send --type location and --event click reach the gateway as WeCom's types", async () => {
  const gw = await gateway();
  try {
    const location = await simulate([
      "send",
      "--url",
      gw.url,
      "--type",
      "location",
      ...CREDENTIALS,
    ]);
    assert.equal(location.code, 0, location.all);
    assert.match(location.stdout, /location message \(MsgId \d+\) from 'simulated-user'/);
    const click = await simulate([
      "send",
      "--url",
      gw.url,
      "--event",
      "click",
      "--key",
      "MENU_HELP",
      ...CREDENTIALS,
    ]);
    assert.equal(click.code, 0, click.all);
    assert.match(click.stdout, /event 'click' \(EventKey 'MENU_HELP'\)/);
    const types = (await listJobs(gw.kv)).map((job) =>
      job.message.type === "event"
        ? `event:${job.message.event}:${job.message.eventKey}`
        : job.message.type
    ).sort();
    assert.deepEqual(types, ["event:click:MENU_HELP", "location"]);
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate send takes the URL, app and allowed user from the configuration", async () => {
  const gw = await gateway();
  try {
    const env = {
      ...APP_ENV,
      WECOM_CALLBACK_HOST: "0.0.0.0",
      WECOM_CALLBACK_PORT: String(gw.gw.address!.port),
      WECOM_CALLBACK_ALLOWED_USERS: "wangwu,zhaoliu",
    };
    const result = await simulate(["send", "--text", "hi"], { env });
    assert.equal(result.code, 0, result.all);
    assert.match(
      result.stdout,
      new RegExp(`POST http://127\\.0\\.0\\.1:${gw.gw.address!.port}/wecom/callback`),
    );
    assert.match(result.stdout, /from 'wangwu', as app 'default'/);
    assert.equal((await listJobs(gw.kv))[0].userId, "wangwu");
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate send with another token is refused with 403 and explained", async () => {
  const gw = await gateway();
  try {
    const other = randomApp({ corpId: APP.corpId });
    const result = await simulate(["send", "--url", gw.url, ...credentials(other)]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /HTTP 403/);
    assert.match(result.stdout, /FAIL: Refused: the signature, CorpID or AgentID does not match/);
    assert.equal((await listJobs(gw.kv)).length, 0);
  } finally {
    await gw.stop();
  }
});

Deno.test("simulate send to a port where nothing listens says so", async () => {
  const url = `http://127.0.0.1:${closedPort()}/wecom/callback`;
  const result = await simulate(["send", "--url", url, ...CREDENTIALS]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /FAIL: Connection refused by 127\.0\.0\.1:\d+/);
});

Deno.test("simulate refuses bad usage with exit 2 and says what to do", async () => {
  const partial = await simulate(["send", "--url", "http://127.0.0.1:1/x", "--token", APP.token]);
  assert.equal(partial.code, 2);
  assert.match(partial.stderr, /also give --aes-key, --corp-id/);
  const type = await simulate(["send", "--type", "sticker", "--url", "http://x/", ...CREDENTIALS]);
  assert.equal(type.code, 2);
  assert.match(
    type.stderr,
    /Cannot send --type 'sticker': use text, image, voice, video, location, link/,
  );
  const key = await simulate(["send", "--key", "K", "--url", "http://x/", ...CREDENTIALS]);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /add --event NAME/);
  const badKey = await simulate([
    "verify",
    "--url",
    "http://x/",
    ...credentials({ token: "t", encodingAesKey: "short", corpId: "ww1" }),
  ]);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /Cannot use the EncodingAESKey of --aes-key/);
  const sub = await simulate(["replay"]);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /'simulate' has no subcommand 'replay'/);
  const noConfig = await simulate(["send", "--text", "hi"]);
  assert.equal(noConfig.code, 2);
  assert.match(noConfig.stderr, /give the credentials with --token/);
});

/** `simulate send` against a demo (gateway + simulated WeCom) with the demo's keys. */
async function sendToDemo(demo: Awaited<ReturnType<typeof startDemo>>, extra: string[]) {
  const { context, stdout, stderr } = captureContext({ env: {}, cwd: Deno.cwd() });
  const code = await createSimulateCommand({ context }).run([
    "send",
    "--url",
    demo.callbackUrl,
    ...credentials(demo.app),
    "--agent-id",
    demo.app.agentId,
    "--user",
    demo.user.userId,
    ...extra,
  ]);
  return { code, stdout: stdout(), stderr: stderr() };
}

Deno.test("simulate send --file uploads the file first; the gateway downloads exactly it and the agent is told its size", async () => {
  const previous = setLogSink({ format: "human", level: "error", write: () => {} });
  const demo = await startDemo();
  const dir = await Deno.makeTempDir();
  try {
    const voice = amr(3);
    await Deno.writeFile(`${dir}/memo.amr`, voice);
    const result = await sendToDemo(demo, [
      "--type",
      "voice",
      "--file",
      `${dir}/memo.amr`,
      "--api",
      demo.api.url,
      "--corp-secret",
      demo.app.corpSecret,
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /Uploading memo\.amr \(4806 bytes\) to http:\/\/127\.0\.0\.1:\d+ as voice/,
    );
    const [upload] = demo.api.uploads();
    assert.deepEqual([upload.type, upload.bytes], ["voice", voice]);
    assert.match(result.stdout, new RegExp(`uploaded as MediaId ${upload.mediaId}`));
    await waitFor(() => demo.settled(demo.user.userId), "the conversation settled");
    const [reply] = demo.api.delivered(demo.user.userId);
    assert.match(
      String(reply.payload.content),
      new RegExp(
        `^\\[voice\\] media_id=${upload.mediaId} format=amr file=\\S+ size=4806 type=audio/amr$`,
      ),
    );

    // With --api and no --file, the demo's sample of the type goes.
    const sample = await sendToDemo(demo, [
      "--type",
      "image",
      "--api",
      demo.api.url,
      "--corp-secret",
      demo.app.corpSecret,
    ]);
    assert.equal(sample.code, 0, sample.stderr);
    assert.match(sample.stdout, /Uploading demo\.png \(70 bytes\)/);
  } finally {
    await demo.close();
    await Deno.remove(dir, { recursive: true });
    setLogSink(previous);
  }
});

Deno.test("simulate send --file: a file WeCom refuses, a missing file, a wrong type or no API each say what to do", async () => {
  const previous = setLogSink({ format: "human", level: "error", write: () => {} });
  const demo = await startDemo();
  const dir = await Deno.makeTempDir();
  try {
    const api = ["--api", demo.api.url, "--corp-secret", demo.app.corpSecret];
    await Deno.writeFile(`${dir}/anim.gif`, gif());
    const refused = await sendToDemo(demo, [
      "--type",
      "image",
      "--file",
      `${dir}/anim.gif`,
      ...api,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /FAIL: WeCom did not take the file: .*40004/);
    const missing = await sendToDemo(demo, [
      "--type",
      "image",
      "--file",
      `${dir}/nope.png`,
      ...api,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Cannot read --file .*nope\.png/);
    const wrongType = await sendToDemo(demo, ["--type", "location", "--file", `${dir}/anim.gif`]);
    assert.equal(wrongType.code, 2);
    assert.match(wrongType.stderr, /--file and --api go with --type image, voice, video/);
    const noApi = await sendToDemo(demo, ["--type", "image", "--file", `${dir}/anim.gif`]);
    assert.equal(noApi.code, 2);
    assert.match(
      noApi.stderr,
      /give the WeCom API and the app's Secret: --api URL --corp-secret S/,
    );
    assert.deepEqual(demo.api.uploads(), [], "nothing was uploaded");
    // Without --file the placeholder MediaId is named as such.
    const placeholder = await sendToDemo(demo, ["--type", "video"]);
    assert.equal(placeholder.code, 0);
    assert.match(placeholder.stdout, /placeholder 'simulated-media-id'.*--file PATH/);
  } finally {
    await demo.close();
    await Deno.remove(dir, { recursive: true });
    setLogSink(previous);
  }
});
