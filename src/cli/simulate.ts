/**
 * `simulate`: acts as WeCom against a gateway at a URL.
 *
 * - `simulate send` seals a message (text, an event, or another type) with the
 *   app's Token and EncodingAESKey and POSTs it exactly as WeCom does, then says
 *   what the answer means.
 * - `simulate verify` performs WeCom's URL-verification handshake (the step
 *   that fails when the callback URL "will not save" in the admin console) and
 *   diagnoses the answer (see `./url_verification.ts`).
 *
 * Credentials come from the configuration (`--app NAME` picks one) or from
 * `--token`, `--aes-key`, `--corp-id` and `--agent-id`.
 *
 * @example Usage
 * ```ts ignore
 * import { createSimulateCommand } from "./simulate.ts";
 * await createSimulateCommand().run(["send", "--url", "http://127.0.0.1:8645/wecom/callback", "--text", "hi"]);
 * ```
 *
 * @module
 */

import { type AppCrypto, importAppCrypto, WeComCryptoError } from "../crypto/mod.ts";
import { anyMessage, eventMessage, sealCallback, textMessage } from "../simulator/seal.ts";
import { describeUsageError, type ParsedOptions, parseOptions, UsageError } from "./args.ts";
import { type Command, wantsHelp } from "./command.ts";
import { type CliContext, defaultContext, loadConfigIn } from "./context.ts";
import { describeFetchFailure } from "./network_error.ts";
import { verifyCallbackUrl } from "./url_verification.ts";
import { uploadForCallback } from "./simulate_upload.ts";
import { demoMedia, type SampleMedia } from "../simulator/media_samples.ts";
import { contentTypeFor } from "../attachments/kinds.ts";
import { basename, resolve } from "../path.ts";

const CREDENTIALS_HELP = `Credentials (default: the app from the configuration):
  --config PATH       config.yaml to read (default: ./config.yaml when present, or WECOM_GATEWAY_CONFIG)
  --app NAME          which configured app to act for (default: the first)
  --token T --aes-key K --corp-id ID [--agent-id N]
                      use these instead of the configuration (agent id default 1000002;
                      the gateway refuses a message whose AgentID is not its app's)`;

const SEND_HELP =
  `wecom-gateway simulate send: POST one message to a gateway exactly as WeCom would.

Usage: wecom-gateway simulate send [--url URL] [--text TEXT] [--user ID] [--msg-id N]
                                   [--event enter_agent|click|… [--key K]]
                                   [--type image|voice|video|location|link]
                                   [--file PATH] [--api URL] [--corp-secret S]

Options:
  --url URL       callback URL (default: http://127.0.0.1:<port><path> from the configuration)
  --text TEXT     a text message (default "hello")
  --user ID       sender's UserID (default: the first user on the allowlist, else "simulated-user")
  --msg-id N      MsgId (default random); send the same id twice to see deduplication
  --event NAME    send an event instead (e.g. enter_agent, click); --key sets its EventKey
  --type TYPE     send an image, voice, video, location or link message with sample fields
  --file PATH     with --type image|voice|video: upload this file to WeCom's media/upload first
                  and send its MediaId, so the gateway can download it (image: JPG/PNG, voice:
                  AMR, video: MP4, as WeCom requires)
  --api URL       the WeCom API to upload to (default: the app's api_base); the demo prints its
                  simulated one. With --api and no --file, the demo's sample of the type is sent
  --corp-secret S the app's Secret for the upload's token (default: the app's corp_secret)
  Without --file or --api an image, voice or video carries the placeholder MediaId
  'simulated-media-id', which no WeCom holds: the gateway's download fails (40007) and the agent
  is told so. WeCom sends no file messages to self-built apps, so there is no --type file.

${CREDENTIALS_HELP}

Exit codes: 0 the gateway accepted it (HTTP 200), 1 it did not, 2 bad usage or configuration.`;

const VERIFY_HELP =
  `wecom-gateway simulate verify: run WeCom's URL verification against a callback URL.

Usage: wecom-gateway simulate verify [--url URL]

This is the GET WeCom sends when you click 保存 on the app's 接收消息 settings; when the URL
"will not save", this says why: not reachable (refused, timeout, DNS), TLS, wrong path (404),
Token/EncodingAESKey mismatch (403), a body that is not exactly the plaintext (quotes, newline,
BOM, JSON or HTML: another program answered), or slower than WeCom's 1 s deadline.

Options:
  --url URL       the URL entered in the admin console (default: the local gateway from the
                  configuration; use the public URL to test what WeCom sees)
  --timeout MS    give up after this many milliseconds (default 5000)

${CREDENTIALS_HELP}

Exit codes: 0 the URL would save, 1 it would not, 2 bad usage or configuration.`;

const HELP = `wecom-gateway simulate: act as WeCom against a gateway.

Usage: wecom-gateway simulate send [options]     POST a message (text, event, media types)
       wecom-gateway simulate verify [options]   URL-verification handshake, diagnosed

Run 'wecom-gateway simulate send --help' or 'simulate verify --help' for their options.`;

/** Dependencies of {@linkcode createSimulateCommand} (tests). */
export interface SimulateDeps {
  context?: CliContext;
  /** Deadline of the URL verification, ms (WeCom: 1000). */
  verifyDeadlineMs?: number;
  fetch?: typeof fetch;
}

/** The app to act as and the URL to call. */
interface Target {
  /** "as app 'name'", or "with the credentials given on the command line". */
  label: string;
  corpId: string;
  agentId: string;
  crypto: AppCrypto;
  url: string;
  /** The configured callback path, when known. */
  path?: string;
  /** Allowlisted plain user ids from the configuration. */
  allowed: string[];
  /** For uploads (`--file`): the app's Secret and API base, from the configuration or flags. */
  corpSecret?: string;
  apiBase?: string;
}

const CREDENTIAL_FLAGS = ["token", "aes-key", "corp-id", "agent-id"];
const COMMON_STRINGS = ["url", "config", "app", ...CREDENTIAL_FLAGS];

const SAMPLE_FIELDS: Record<string, Record<string, string>> = {
  image: { PicUrl: "https://example.com/simulated.jpg", MediaId: "simulated-media-id" },
  voice: { MediaId: "simulated-media-id", Format: "amr" },
  video: { MediaId: "simulated-media-id", ThumbMediaId: "simulated-thumb-id" },
  location: {
    Location_X: "39.9042",
    Location_Y: "116.4074",
    Scale: "15",
    Label: "北京市东城区",
    AppType: "wxwork",
  },
  link: {
    Title: "Simulated link",
    Description: "A link sent by wecom-gateway simulate",
    Url: "https://example.com/",
    PicUrl: "https://example.com/simulated.jpg",
  },
};

function randomMsgId(): string {
  const digits = crypto.getRandomValues(new Uint8Array(18));
  return "7" + Array.from(digits, (d) => String(d % 10)).join("");
}

function localUrl(host: string, port: number, path: string): string {
  const shown = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}${path}`;
}

/** Resolves the credentials and URL, or prints why not and returns an exit code. */
async function resolveTarget(
  context: CliContext,
  values: ParsedOptions["values"],
  command: string,
): Promise<Target | number> {
  const flag = (name: string) => values[name] as string | undefined;
  const given = CREDENTIAL_FLAGS.filter((name) => flag(name) !== undefined);
  let name: string;
  let corpId: string;
  let agentId: string;
  let token: string;
  let aesKey: string;
  let url = flag("url");
  let path: string | undefined;
  let allowed: string[] = [];
  let configured: { corpSecret: string; apiBase: string } | undefined;
  if (given.length > 0) {
    const missing = ["token", "aes-key", "corp-id"].filter((n) => flag(n) === undefined);
    if (missing.length > 0) {
      throw new UsageError(
        command,
        `With --${given[0]} also give ${missing.map((n) => `--${n}`).join(", ")} ` +
          "(or none of them to use the configuration).",
      );
    }
    if (url === undefined) {
      throw new UsageError(command, "Without a configuration, give the callback URL: --url URL.");
    }
    name = "";
    corpId = flag("corp-id")!;
    agentId = flag("agent-id") ?? "1000002";
    token = flag("token")!;
    aesKey = flag("aes-key")!;
  } else {
    const configArgs = flag("config") === undefined ? [] : ["--config", flag("config")!];
    const config = await loadConfigIn(context, configArgs);
    if (!config) {
      context.err(
        "\nFix the configuration, or give the credentials with --token, --aes-key, --corp-id " +
          "and --url.",
      );
      return 2;
    }
    const wanted = flag("app");
    const app = wanted === undefined
      ? config.apps[0]
      : config.apps.find((candidate) => candidate.name === wanted);
    if (!app) {
      throw new UsageError(
        command,
        `There is no app named '${wanted}': the configured apps are ${
          config.apps.map((a) => `'${a.name}'`).join(", ")
        }.`,
      );
    }
    if (wanted === undefined && config.apps.length > 1) {
      context.out(`Acting as app '${app.name}' (the first of ${config.apps.length}; --app NAME).`);
    }
    name = app.name;
    configured = app;
    corpId = app.corpId;
    agentId = app.agentId;
    token = app.token;
    aesKey = app.encodingAesKey;
    path = config.path;
    url ??= localUrl(config.host, config.port, config.path);
    allowed = config.access.allowedUsers.filter((user) => user !== "*" && !user.includes(":"));
  }
  try {
    new URL(url);
  } catch {
    throw new UsageError(
      command,
      `Cannot use '${url}' as --url: write a full URL such as http://127.0.0.1:8645/wecom/callback.`,
    );
  }
  let appCrypto: AppCrypto;
  try {
    appCrypto = await importAppCrypto(aesKey, token, corpId);
  } catch (error) {
    if (!(error instanceof WeComCryptoError)) throw error;
    throw new UsageError(
      command,
      `Cannot use the EncodingAESKey of ${
        name === "" ? "--aes-key" : `app '${name}'`
      }: ${error.message}`,
    );
  }
  const label = name === "" ? "with the credentials given on the command line" : `as app '${name}'`;
  return {
    label,
    corpId,
    agentId,
    crypto: appCrypto,
    url,
    path,
    allowed,
    corpSecret: flag("corp-secret") ?? configured?.corpSecret,
    apiBase: flag("api") ?? configured?.apiBase,
  };
}

/** The decrypted XML to send, from the options. */
function buildMessage(
  values: ParsedOptions["values"],
  target: Target,
  uploaded?: { mediaId: string; filename: string },
): {
  xml: string;
  description: string;
} {
  const userId = (values.user as string | undefined) ?? target.allowed[0] ?? "simulated-user";
  const party = { corpId: target.corpId, agentId: target.agentId, userId };
  const event = values.event as string | undefined;
  const type = values.type as string | undefined;
  const msgId = (values["msg-id"] as string | undefined) ?? randomMsgId();
  if (values["msg-id"] !== undefined && !/^\d+$/.test(msgId)) {
    throw new UsageError(
      "simulate send",
      `--msg-id must be digits, as WeCom's are: got '${msgId}'.`,
    );
  }
  if (event !== undefined && type !== undefined) {
    throw new UsageError("simulate send", "Give --event or --type, not both.");
  }
  if (values.key !== undefined && event === undefined) {
    throw new UsageError("simulate send", "--key is the EventKey of an event: add --event NAME.");
  }
  if (event !== undefined) {
    const key = values.key as string | undefined;
    return {
      xml: eventMessage({ ...party, event, eventKey: key }),
      description: `event '${event}'${key ? ` (EventKey '${key}')` : ""} from '${userId}'`,
    };
  }
  if (type !== undefined && type !== "text") {
    const fields = SAMPLE_FIELDS[type];
    if (!fields) {
      throw new UsageError(
        "simulate send",
        `Cannot send --type '${type}': use text, ${Object.keys(SAMPLE_FIELDS).join(", ")}.`,
      );
    }
    const media: Record<string, string> = uploaded ? { MediaId: uploaded.mediaId } : {};
    return {
      xml: anyMessage({ ...party, msgType: type, fields: { ...fields, ...media, MsgId: msgId } }),
      description: `${type} message (MsgId ${msgId}${
        uploaded ? `, ${uploaded.filename} uploaded as MediaId ${uploaded.mediaId}` : ""
      }) from '${userId}'`,
    };
  }
  const text = (values.text as string | undefined) ?? "hello";
  return {
    xml: textMessage({ ...party, content: text, msgId }),
    description: `text message of ${
      new TextEncoder().encode(text).length
    } bytes (MsgId ${msgId}) from '${userId}'`,
  };
}

const MEDIA_TYPES = ["image", "voice", "video"] as const;

/**
 * With `--file` (or `--api`) and an image, voice or video: uploads the file (or the demo's
 * sample of the type) to WeCom first. Resolves to the media id and file name, to nothing when
 * no upload was asked, or to an exit code after printing why the upload failed.
 */
async function uploadIfAsked(
  values: ParsedOptions["values"],
  target: Target,
  deps: SimulateDeps,
  context: CliContext,
): Promise<{ mediaId: string; filename: string } | undefined | number> {
  const type = values.type as string | undefined;
  const path = values.file as string | undefined;
  const media = MEDIA_TYPES.find((candidate) => candidate === type);
  if (path === undefined && values.api === undefined) {
    if (media) {
      context.out(
        `note: the ${media}'s MediaId is the placeholder 'simulated-media-id', which WeCom does ` +
          "not hold: the gateway cannot download it. Give --file PATH to upload a real file first.",
      );
    }
    return undefined;
  }
  if (!media) {
    throw new UsageError(
      "simulate send",
      `--file and --api go with --type ${
        MEDIA_TYPES.join(", ")
      }: the file is sent as that message.`,
    );
  }
  if (!target.apiBase || !target.corpSecret) {
    throw new UsageError(
      "simulate send",
      "To upload the file, give the WeCom API and the app's Secret: --api URL --corp-secret S " +
        "(or use a configured app).",
    );
  }
  let file: SampleMedia;
  if (path === undefined) {
    file = demoMedia(media);
  } else {
    try {
      file = {
        bytes: await Deno.readFile(resolve(context.cwd, path)),
        filename: basename(path),
        contentType: contentTypeFor(path),
      };
    } catch (error) {
      throw new UsageError(
        "simulate send",
        `Cannot read --file ${path}: ${
          (error as Error).message
        }. Give the path of a readable file.`,
      );
    }
  }
  context.out(
    `Uploading ${file.filename} (${file.bytes.length} bytes) to ${target.apiBase} as ${media}…`,
  );
  try {
    const mediaId = await uploadForCallback({
      app: {
        corpId: target.corpId,
        corpSecret: target.corpSecret,
        agentId: target.agentId,
        apiBase: target.apiBase,
      },
      kind: media,
      file,
      fetch: deps.fetch,
    });
    return { mediaId, filename: file.filename };
  } catch (error) {
    context.err(`FAIL: WeCom did not take the file: ${(error as Error).message}`);
    return 1;
  }
}

function meaningOf(status: number, body: string): { ok: boolean; text: string } {
  const said = body.trim() ? ` The gateway said: ${JSON.stringify(body.trim().slice(0, 300))}` : "";
  switch (status) {
    case 200:
      return {
        ok: true,
        text: "Accepted: the gateway recorded the message durably (or recognised a duplicate " +
          "MsgId, or deliberately ignored it, e.g. a sender not on the allowlist, who gets a " +
          "notice). Replies go out through WeCom's message/send API, not in this answer." +
          (body.length > 0 ? ` Note: the body is not empty (${body.length} bytes).` : ""),
      };
    case 400:
      return { ok: false, text: `Malformed request: the envelope or message was refused.${said}` };
    case 403:
      return {
        ok: false,
        text: "Refused: the signature, CorpID or AgentID does not match the gateway's " +
          `configuration (token, encoding_aes_key, corp_id), or the timestamp is off.${said}`,
      };
    case 404:
      return {
        ok: false,
        text: `Nothing at this path: use the gateway's callback path (see 'check').${said}`,
      };
    case 405:
      return { ok: false, text: `Method not allowed at this URL.${said}` };
    case 413:
      return { ok: false, text: `The body is over 64 KiB.${said}` };
    default:
      return status >= 500
        ? {
          ok: false,
          text: `The gateway could not store the message (HTTP ${status}); WeCom would retry ` +
            `after 5 s, three times.${said}`,
        }
        : { ok: false, text: `Unexpected answer HTTP ${status}.${said}` };
  }
}

async function runSend(args: string[], deps: SimulateDeps, context: CliContext): Promise<number> {
  if (wantsHelp(args)) {
    context.out(SEND_HELP);
    return 0;
  }
  const { values } = parseOptions(args, {
    command: "simulate send",
    strings: [
      ...COMMON_STRINGS,
      "text",
      "user",
      "msg-id",
      "event",
      "key",
      "type",
      "file",
      "api",
      "corp-secret",
    ],
  });
  const target = await resolveTarget(context, values, "simulate send");
  if (typeof target === "number") return target;
  const uploaded = await uploadIfAsked(values, target, deps, context);
  if (typeof uploaded === "number") return uploaded;
  const message = buildMessage(values, target, uploaded);
  const sealed = await sealCallback(target.crypto, message.xml, {
    corpId: target.corpId,
    agentId: target.agentId,
  });
  const url = new URL(target.url);
  const full = `${url.origin}${url.pathname}?${
    url.search ? url.search.slice(1) + "&" : ""
  }${sealed.query}`;
  context.out(`POST ${url.origin}${url.pathname}: ${message.description}, ${target.label}`);
  const started = performance.now();
  let status: number;
  let body: string;
  try {
    const response = await (deps.fetch ?? fetch)(full, {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: sealed.body,
      redirect: "manual",
      signal: AbortSignal.timeout(10_000),
    });
    status = response.status;
    body = await response.text();
  } catch (error) {
    const failure = describeFetchFailure(error, target.url);
    context.err(`FAIL: ${failure.summary} ${failure.advice} (${failure.detail})`);
    return 1;
  }
  const ms = Math.round(performance.now() - started);
  const meaning = meaningOf(status, body);
  context.out(`HTTP ${status} in ${ms} ms`);
  context.out(`${meaning.ok ? "OK" : "FAIL"}: ${meaning.text}`);
  if (ms > 5000) {
    context.out(
      "warning: slower than 5 s: WeCom would give up and send the message again (3 times).",
    );
  }
  return meaning.ok ? 0 : 1;
}

function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\./.test(host) || /^10\./.test(host) ||
    /^192\.168\./.test(host) || /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
    /^169\.254\./.test(host) || /^f[cd]/i.test(host);
}

async function runVerify(args: string[], deps: SimulateDeps, context: CliContext): Promise<number> {
  if (wantsHelp(args)) {
    context.out(VERIFY_HELP);
    return 0;
  }
  const { values } = parseOptions(args, {
    command: "simulate verify",
    strings: [...COMMON_STRINGS, "timeout"],
  });
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new UsageError(
        "simulate verify",
        `--timeout must be a positive number of milliseconds: got '${values.timeout}'.`,
      );
    }
  }
  const target = await resolveTarget(context, values, "simulate verify");
  if (typeof target === "number") return target;
  const url = new URL(target.url);
  context.out(
    `GET ${url.origin}${url.pathname}?msg_signature=…&timestamp=…&nonce=…&echostr=… ` +
      `(WeCom's URL verification, ${target.label})`,
  );
  const report = await verifyCallbackUrl(target.crypto, target.url, {
    configuredPath: target.path,
    deadlineMs: deps.verifyDeadlineMs,
    timeoutMs,
    fetch: deps.fetch,
  });
  if (report.status !== undefined) {
    context.out(`HTTP ${report.status} in ${report.elapsedMs} ms, body ${report.bodyPreview}`);
  }
  context.out(`${report.ok ? "OK" : `FAIL (${report.outcome})`}: ${report.explanation}`);
  if (isPrivateHost(url.hostname)) {
    context.out(
      `note: ${url.hostname} is a local or private address. WeCom calls from the internet: ` +
        "enter the public URL in the admin console and run this again with --url <public URL>.",
    );
  }
  return report.ok ? 0 : 1;
}

/**
 * Creates the `simulate` command.
 *
 * @example Usage
 * ```ts ignore
 * import { captureContext } from "./context.ts";
 * import { createSimulateCommand } from "./simulate.ts";
 * const { context, stdout } = captureContext();
 * await createSimulateCommand({ context }).run(["verify", "--url", url, "--token", t, "--aes-key", k, "--corp-id", c]);
 * ```
 */
export function createSimulateCommand(deps: SimulateDeps = {}): Command {
  return {
    name: "simulate",
    summary: "act as WeCom: send a message, or run the URL verification and diagnose it",
    help: HELP,
    async run(args) {
      const context = deps.context ?? defaultContext();
      const [sub, ...rest] = args;
      try {
        if (sub === "send") return await runSend(rest, deps, context);
        if (sub === "verify") return await runVerify(rest, deps, context);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        context.err(describeUsageError(error));
        return 2;
      }
      if (sub === undefined) {
        context.err(HELP);
        return 2;
      }
      if (wantsHelp([sub])) {
        context.out(HELP);
        return 0;
      }
      context.err(`'simulate' has no subcommand '${sub}': use send or verify.\n\n${HELP}`);
      return 2;
    },
  };
}

/** The `simulate` command. */
export const simulateCommand: Command = createSimulateCommand();
