/**
 * Validation of the media, welcome and markdown-fallback settings: the
 * attachment store, its size cap and retention, the folders outbound
 * attachments may come from, voice transcription, the welcome message, and
 * the members who get plain text instead of markdown.
 *
 * Used by `validateConfig()` in `./validate.ts`; problems go to the reader's
 * list, so they are reported with every other problem at once.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readMedia } from "./validate_media.ts";
 * const read = createReader({ env: {}, dotenv: {}, root: {} });
 * const media = readMedia(read, "/srv/gw", undefined);
 * console.assert(media.dir === "/srv/gw/data/media" && media.transcription.baseUrl === "");
 * ```
 *
 * @module
 */

import { isAbsolute, resolve } from "../path.ts";
import { SETTINGS } from "./keys.ts";
import { fromEnv } from "./layers.ts";
import { createReader, where } from "./read.ts";
import type { MediaConfig, WelcomeConfig } from "./types.ts";

type Reader = ReturnType<typeof createReader>;

/** Defaults of the settings read here. */
export const MEDIA_DEFAULTS = {
  dir: "./data/media",
  maxBytes: 20 * 1024 * 1024,
  retentionHours: 72,
  transcriptionModel: "whisper-1",
  transcriptionApiKeyEnv: "OPENAI_API_KEY",
  welcomeSeconds: 86400,
  welcomeOnEnter: true,
  detectWeChat: true,
} as const;

/** Largest text WeCom sends in one message, UTF-8 bytes. */
const MAX_MESSAGE_BYTES = 2048;

function resolvePath(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/**
 * Reads `gateway.media` (and its `transcription` part). `commandCwd` is the
 * command agent's working folder when configured: the default upload root.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readMedia } from "./validate_media.ts";
 * const read = createReader({ env: { WECOM_GATEWAY_UPLOAD_ROOTS: "/srv/out,/tmp/agent" }, dotenv: {}, root: {} });
 * console.assert(readMedia(read, "/srv", undefined).uploadRoots.length === 2);
 * ```
 */
export function readMedia(read: Reader, cwd: string, commandCwd: string | undefined): MediaConfig {
  const dirText = read.text(SETTINGS.mediaDir, MEDIA_DEFAULTS.dir).trim();
  const dir = resolvePath(cwd, dirText === "" ? MEDIA_DEFAULTS.dir : dirText);
  const maxBytes = read.integer(SETTINGS.mediaMaxBytes, MEDIA_DEFAULTS.maxBytes, { min: 1 });
  const retentionHours = read.number(
    SETTINGS.mediaRetentionHours,
    MEDIA_DEFAULTS.retentionHours,
    { min: 0 },
  );

  const listed = read.list(SETTINGS.mediaUploadRoots, /,/);
  const uploadRoots = (listed ?? (commandCwd ? [commandCwd] : [])).map((root) =>
    resolvePath(cwd, root)
  );
  if (uploadRoots.some((root) => resolve(root) === "/")) {
    const raw = read.raw(SETTINGS.mediaUploadRoots);
    read.report(
      SETTINGS.mediaUploadRoots,
      raw,
      "includes /, which would let a reply send any file of this server (keys, .env, the KV store).",
      `List only the folders your agent writes its output files to in ${
        where(SETTINGS.mediaUploadRoots, raw)
      }, e.g. /srv/agent/output.`,
    );
  }

  const baseRaw = read.raw(SETTINGS.transcriptionBaseUrl);
  const baseUrl = baseRaw !== undefined && String(baseRaw.value ?? "").trim() === ""
    ? "" // written empty: off
    : read.url(SETTINGS.transcriptionBaseUrl, "");
  const model = read.text(SETTINGS.transcriptionModel, MEDIA_DEFAULTS.transcriptionModel).trim();
  const keyEnvRaw = read.raw(SETTINGS.transcriptionApiKeyEnv);
  let apiKeyEnv = read.text(
    SETTINGS.transcriptionApiKeyEnv,
    MEDIA_DEFAULTS.transcriptionApiKeyEnv,
  ).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(apiKeyEnv)) {
    read.report(
      SETTINGS.transcriptionApiKeyEnv,
      keyEnvRaw,
      "is not the name of an environment variable (it names the variable that holds the key, not the key itself).",
      "Set gateway.media.transcription.api_key_env to a variable name such as OPENAI_API_KEY, and put the key in that variable.",
    );
    apiKeyEnv = MEDIA_DEFAULTS.transcriptionApiKeyEnv;
  }
  const apiKey = baseUrl === "" ? "" : String(fromEnv(read.layers, apiKeyEnv)?.value ?? "");
  if (baseUrl !== "" && model === "") {
    read.report(
      SETTINGS.transcriptionModel,
      read.raw(SETTINGS.transcriptionModel),
      "is empty; transcription needs a model name.",
      "Set gateway.media.transcription.model to e.g. whisper-1, or remove it for the default.",
    );
  }
  return {
    dir,
    maxBytes,
    retentionHours,
    uploadRoots,
    transcription: {
      baseUrl,
      model: model || MEDIA_DEFAULTS.transcriptionModel,
      apiKey,
      language: read.text(SETTINGS.transcriptionLanguage, "").trim(),
      ffmpeg: read.text(SETTINGS.transcriptionFfmpeg, "").trim(),
    },
  };
}

/**
 * Reads the welcome settings (`welcome_text`, `welcome_seconds`,
 * `welcome_on_enter` under `platforms.wecom_callback.extra`).
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readWelcome } from "./validate_media.ts";
 * const read = createReader({ env: { WECOM_GATEWAY_WELCOME_TEXT: "Hi!" }, dotenv: {}, root: {} });
 * console.assert(readWelcome(read).text === "Hi!");
 * ```
 */
export function readWelcome(read: Reader): WelcomeConfig {
  let text = read.text(SETTINGS.welcomeText, "").trim();
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MESSAGE_BYTES) {
    const raw = read.raw(SETTINGS.welcomeText);
    read.report(
      SETTINGS.welcomeText,
      raw,
      `is ${bytes} UTF-8 bytes; one WeCom message holds at most ${MAX_MESSAGE_BYTES}.`,
      `Shorten ${where(SETTINGS.welcomeText, raw)}.`,
    );
    text = "";
  }
  return {
    text,
    periodSeconds: read.integer(SETTINGS.welcomeSeconds, MEDIA_DEFAULTS.welcomeSeconds, {
      min: 0,
    }),
    onEnter: read.boolean(SETTINGS.welcomeOnEnter, MEDIA_DEFAULTS.welcomeOnEnter),
  };
}

/**
 * Reads who gets plain text instead of markdown: `markdown_plain_users`
 * (entries `user` or `corp_id:user`) and `markdown_detect_wechat`.
 *
 * @example Usage
 * ```ts
 * import { createReader } from "./read.ts";
 * import { readPlainText } from "./validate_media.ts";
 * const read = createReader({ env: { WECOM_GATEWAY_MARKDOWN_PLAIN_USERS: "lisi,ww1:wang" }, dotenv: {}, root: {} });
 * console.assert(readPlainText(read).plainTextUsers.length === 2);
 * ```
 */
export function readPlainText(read: Reader): { plainTextUsers: string[]; detectWeChat: boolean } {
  const listed = read.list(SETTINGS.markdownPlainUsers, /,/) ?? [];
  const bad = listed.filter((entry) => {
    const parts = entry.split(":");
    return /\s/.test(entry) || parts.length > 2 || parts.some((part) => part === "") ||
      entry === "*";
  });
  if (bad.length > 0) {
    const raw = read.raw(SETTINGS.markdownPlainUsers);
    read.report(
      SETTINGS.markdownPlainUsers,
      raw,
      `has entries that are neither user nor corp_id:user: ${
        bad.map((entry) => JSON.stringify(entry.slice(0, 64))).join(", ")
      }.`,
      `Write ${
        where(SETTINGS.markdownPlainUsers, raw)
      } as comma-separated user ids (e.g. lisi,ww0123:wangwu); to send everyone plain text, set markdown: false instead.`,
    );
  }
  return {
    plainTextUsers: listed.filter((entry) => !bad.includes(entry)),
    detectWeChat: read.boolean(SETTINGS.markdownDetectWeChat, MEDIA_DEFAULTS.detectWeChat),
  };
}
