// The media, welcome, markdown-fallback and platform-hint settings.
import assert from "node:assert/strict";
import { validated } from "./load_error.ts";

Deno.test("media defaults: store under ./data/media, 20 MB, 72 h, no roots, no transcription", () => {
  const { config, problems } = validated({});
  assert.deepEqual(problems, []);
  assert.deepEqual(config.media, {
    dir: "/srv/gw/data/media",
    maxBytes: 20 * 1024 * 1024,
    retentionHours: 72,
    uploadRoots: [],
    transcription: {
      baseUrl: "",
      model: "whisper-1",
      apiKey: "",
      language: "",
      ffmpeg: "",
    },
  });
  assert.deepEqual(config.welcome, { text: "", periodSeconds: 86400, onEnter: true });
  assert.equal(config.agent.platformHint, true);
});

Deno.test("media settings from config.yaml and the environment; the command cwd is the default root", () => {
  const { config, problems } = validated({
    agent: { kind: "command", command: { argv: ["hermes"], cwd: "agent" }, platform_hint: false },
    gateway: {
      media: {
        dir: "/var/lib/gw/media",
        max_bytes: 1000,
        retention_hours: 0,
        transcription: { model: "whisper-large-v3", api_key_env: "STT_KEY", language: "zh" },
      },
    },
  }, {
    WECOM_GATEWAY_TRANSCRIPTION_BASE_URL: "http://127.0.0.1:9000/v1/",
    STT_KEY: "sk-stt",
  });
  assert.deepEqual(problems, []);
  assert.equal(config.media.dir, "/var/lib/gw/media");
  assert.equal(config.media.maxBytes, 1000);
  assert.equal(config.media.retentionHours, 0);
  assert.deepEqual(config.media.uploadRoots, ["/srv/gw/agent"]);
  assert.deepEqual(config.media.transcription, {
    baseUrl: "http://127.0.0.1:9000/v1",
    model: "whisper-large-v3",
    apiKey: "sk-stt",
    language: "zh",
    ffmpeg: "",
  });
  assert.equal(config.agent.platformHint, false);

  const roots = validated({}, { WECOM_GATEWAY_UPLOAD_ROOTS: "/srv/out, rel/dir" });
  assert.deepEqual(roots.config.media.uploadRoots, ["/srv/out", "/srv/gw/rel/dir"]);
});

Deno.test("media problems name the key and the fix", () => {
  const { problems } = validated({
    gateway: {
      media: {
        max_bytes: 0,
        upload_roots: ["/srv/out", "/"],
        transcription: { base_url: "not a url", api_key_env: "sk-123 secret" },
        tanscription: {},
      },
    },
  });
  const byKey = new Map(problems.map((p) => [p.key, p]));
  assert.match(byKey.get("gateway.media.max_bytes")!.message, /whole number of at least 1/);
  assert.match(byKey.get("gateway.media.upload_roots")!.message, /includes \/, which would let/);
  assert.match(byKey.get("gateway.media.upload_roots")!.fix, /output/);
  assert.match(byKey.get("gateway.media.transcription.base_url")!.message, /not an http/);
  assert.match(byKey.get("gateway.media.transcription.api_key_env")!.message, /not the name/);
  assert.ok(!JSON.stringify(problems).includes("sk-123"), "the would-be key is not echoed");
  assert.match(
    byKey.get("gateway.media.tanscription")!.message,
    /Did you mean gateway\.media\.transcription/,
  );
});

Deno.test("welcome and plain-text users: values and problems", () => {
  const { config, problems } = validated({
    platforms: {
      wecom_callback: {
        extra: {
          welcome_text: "  你好！  ",
          welcome_seconds: 600,
          welcome_on_enter: "no",
          markdown: true,
          markdown_plain_users: ["lisi", "ww1:wangwu"],
          markdown_detect_wechat: false,
        },
      },
    },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(config.welcome, { text: "你好！", periodSeconds: 600, onEnter: false });
  assert.deepEqual(config.delivery.plainTextUsers, ["lisi", "ww1:wangwu"]);
  assert.equal(config.delivery.detectWeChat, false);

  const bad = validated({}, {
    WECOM_GATEWAY_WELCOME_TEXT: "长".repeat(700),
    WECOM_GATEWAY_MARKDOWN_PLAIN_USERS: "lisi,a:b:c,*",
  });
  const byKey = new Map(bad.problems.map((p) => [p.key, p]));
  assert.match(
    byKey.get("welcome_text")!.message,
    /2100 UTF-8 bytes; one WeCom message holds at most 2048/,
  );
  assert.equal(byKey.get("welcome_text")!.env, "WECOM_GATEWAY_WELCOME_TEXT");
  assert.match(byKey.get("markdown_plain_users")!.message, /"a:b:c", "\*"/);
  assert.deepEqual(bad.config.delivery.plainTextUsers, ["lisi"]);
});
