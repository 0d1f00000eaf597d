/**
 * Checks the WeCom apps gathered by `collectApps()` and turns them into
 * `AppConfig`s: required credentials present and well formed, names usable as
 * URL path segments, no app configured twice.
 *
 * Secret values (Secret, Token, EncodingAESKey) never appear in a message:
 * at most their length.
 *
 * @example Usage
 * ```ts
 * import { validateApps } from "./validate_apps.ts";
 * const { apps, problems } = validateApps([{
 *   label: "default",
 *   name: { value: "default", from: "environment" },
 *   viaEnv: true,
 *   fields: {
 *     corp_id: { value: "ww1", from: "environment" },
 *     corp_secret: { value: "s", from: "environment" },
 *     agent_id: { value: "1000002", from: "environment" },
 *     token: { value: "tok", from: "environment" },
 *     encoding_aes_key: { value: "a".repeat(43), from: "environment" },
 *   },
 * }], "https://qyapi.weixin.qq.com");
 * console.assert(apps.length === 1 && problems.length === 0);
 * ```
 *
 * @module
 */

import type { AppConfig } from "./types.ts";
import type { ConfigProblem } from "./errors.ts";
import { APP_FIELDS, type AppField, type AppFieldKey } from "./keys.ts";
import type { RawApp, RawValue } from "./layers.ts";

/** App names become a URL path segment: `<path>/<name>`. */
const NAME = /^[A-Za-z0-9_-]+$/;
const TOKEN = /^[A-Za-z0-9]{1,32}$/;
const AES_KEY = /^[A-Za-z0-9]{43}$/;

function fieldOf(key: AppFieldKey): AppField {
  return APP_FIELDS.find((field) => field.key === key)!;
}

/** Where to change a key of `app`: the variable or config.yaml, depending on the value's origin. */
function place(app: RawApp, field: AppField, raw: RawValue | undefined): string {
  if (raw?.from === "environment") return `${field.env} in the environment`;
  if (raw?.from === ".env") return `${field.env} in .env`;
  if (!app.viaEnv) return `${field.key} in the apps entry "${app.label}" of config.yaml`;
  if (app.envOnly) return `${field.env} (in the environment or .env)`;
  return raw === undefined
    ? `${field.env} (or ${field.key} under platforms.wecom_callback.extra in config.yaml)`
    : `${field.key} under platforms.wecom_callback.extra in config.yaml`;
}

function checkField(
  app: RawApp,
  field: AppField,
  raw: RawValue | undefined,
  problem: (message: string, fix: string) => void,
): string | undefined {
  const copy = `copy the ${field.label} again from the WeCom admin console: ${field.where}`;
  if (raw === undefined || raw.value === "") {
    problem(
      "is missing.",
      `Set ${
        place(app, field, raw)
      } to the app's ${field.label}, found in the WeCom admin console: ${field.where}.`,
    );
    return undefined;
  }
  let value = raw.value;
  if (typeof value === "number" && field.key === "agent_id") {
    if (!Number.isSafeInteger(value) || value < 0) {
      problem("is not a whole number.", `Set ${place(app, field, raw)}: ${copy}.`);
      return undefined;
    }
    value = String(value);
  }
  if (typeof value === "number" && raw.from === "config.yaml") {
    problem(
      "is a YAML number, so leading zeros and long digits may be lost.",
      `Put quotes around the value of ${field.key} in config.yaml, e.g. ${field.key}: "…".`,
    );
    return undefined;
  }
  if (typeof value !== "string") {
    problem(
      `is a ${Array.isArray(value) ? "list" : typeof value}; it must be text.`,
      `Set ${place(app, field, raw)} to a quoted string: ${copy}.`,
    );
    return undefined;
  }
  const length = [...value].length;
  switch (field.key) {
    case "corp_id":
      if (value.trim() === "") {
        problem("is empty.", `Set ${place(app, field, raw)}: ${copy}.`);
        return undefined;
      }
      if (/\s/.test(value)) {
        problem("contains whitespace.", `Remove the spaces from ${place(app, field, raw)}.`);
        return undefined;
      }
      return value;
    case "corp_secret":
      if (value.trim() === "") {
        problem("is empty.", `Set ${place(app, field, raw)}: ${copy}.`);
        return undefined;
      }
      if (/\s/.test(value)) {
        problem(
          `contains whitespace (${length} characters in all).`,
          `Remove the spaces or line breaks from ${place(app, field, raw)}.`,
        );
        return undefined;
      }
      return value;
    case "agent_id":
      if (!/^\d+$/.test(value)) {
        problem(
          "is not a number (an AgentId is digits only, e.g. 1000002).",
          `Set ${place(app, field, raw)} to the AgentId: ${field.where}.`,
        );
        return undefined;
      }
      return value;
    case "token":
      if (!TOKEN.test(value)) {
        problem(
          length > 32
            ? `has ${length} characters; a WeCom Token has at most 32 letters and digits.`
            : "contains characters other than letters and digits (a WeCom Token has at most 32 letters and digits).",
          `Set ${place(app, field, raw)} to the Token shown by WeCom: ${field.where}.`,
        );
        return undefined;
      }
      return value;
    case "encoding_aes_key":
      if (!AES_KEY.test(value)) {
        const parts: string[] = [];
        if (length !== 43) parts.push(`has ${length} characters; it must have exactly 43`);
        if (/[^A-Za-z0-9]/.test(value)) {
          parts.push("contains characters other than letters and digits");
        }
        problem(
          `${parts.join(" and ")} (A–Z, a–z, 0–9).`,
          `Set ${place(app, field, raw)}: ${copy}; copy all 43 characters, without a trailing "=".`,
        );
        return undefined;
      }
      return value;
  }
}

function checkName(
  app: RawApp,
  problem: (message: string, fix: string) => void,
): string | undefined {
  const value = app.name?.value;
  const where = app.viaEnv
    ? "name under platforms.wecom_callback.extra"
    : `name of apps entry ${(app.index ?? 0) + 1}`;
  if (value === undefined || value === "") {
    problem(
      "is missing.",
      `Add a name to apps entry ${
        (app.index ?? 0) + 1
      } (letters, digits, _ or -), e.g. name: dept-a; it becomes the callback path <path>/<name>.`,
    );
    return undefined;
  }
  if (typeof value !== "string" && typeof value !== "number") {
    problem("is not text.", `Set ${where} to letters, digits, _ or -, e.g. dept-a.`);
    return undefined;
  }
  const name = String(value);
  if (!NAME.test(name)) {
    problem(
      "may only contain letters, digits, _ and - (it becomes a URL path segment).",
      `Rename it in ${where}, e.g. ${name.replace(/[^A-Za-z0-9_-]+/g, "-") || "dept-a"}.`,
    );
    return undefined;
  }
  return name;
}

/**
 * Validates `raw` apps; `apiBase` is the default API base for apps without their own.
 *
 * @example Usage
 * ```ts
 * import { validateApps } from "./validate_apps.ts";
 * const { problems } = validateApps([{ label: "a", name: { value: "a", from: "config.yaml" },
 *   viaEnv: false, index: 0, fields: {} }], "https://qyapi.weixin.qq.com");
 * console.assert(problems.length === 5); // the five credentials are missing
 * ```
 */
export function validateApps(
  raw: readonly RawApp[],
  apiBase: string,
): { apps: AppConfig[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const apps: AppConfig[] = [];
  for (const app of raw) {
    const env = (key: AppFieldKey) => app.viaEnv ? fieldOf(key).env : undefined;
    const name = checkName(
      app,
      (message, fix) =>
        problems.push({ app: app.label, key: "name", from: app.name?.from, message, fix }),
    );
    const values: Partial<Record<AppFieldKey, string>> = {};
    for (const field of APP_FIELDS) {
      const value = app.fields[field.key];
      const checked = checkField(app, field, value, (message, fix) =>
        problems.push({
          app: app.label,
          key: field.key,
          env: env(field.key),
          from: value?.from,
          message,
          fix,
        }));
      if (checked !== undefined) values[field.key] = checked;
    }
    let base = apiBase;
    if (app.apiBase !== undefined) {
      const text = typeof app.apiBase.value === "string" ? app.apiBase.value.trim() : "";
      if (/^https?:\/\/[^\s/]+/.test(text) && URL.canParse(text)) {
        base = text.replace(/\/+$/, "");
      } else {
        problems.push({
          app: app.label,
          key: "api_base",
          from: app.apiBase.from,
          message: "is not an http:// or https:// URL.",
          fix:
            `Set api_base of apps entry "${app.label}" to a URL such as https://qyapi.weixin.qq.com, or remove it.`,
        });
      }
    }
    if (name !== undefined && APP_FIELDS.every((field) => values[field.key] !== undefined)) {
      apps.push({
        name,
        corpId: values.corp_id!,
        corpSecret: values.corp_secret!,
        agentId: values.agent_id!,
        token: values.token!,
        encodingAesKey: values.encoding_aes_key!,
        apiBase: base,
      });
    }
  }
  problems.push(...duplicates(raw));
  return { apps, problems };
}

/** Apps with the same name, or the same corp_id and agent_id. */
function duplicates(raw: readonly RawApp[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const byName = new Map<string, RawApp[]>();
  const byAgent = new Map<string, RawApp[]>();
  for (const app of raw) {
    const name = app.name?.value;
    if (typeof name === "string" || typeof name === "number") {
      const list = byName.get(String(name)) ?? [];
      list.push(app);
      byName.set(String(name), list);
    }
    const corp = app.fields.corp_id?.value;
    const agent = app.fields.agent_id?.value;
    if (corp !== undefined && agent !== undefined) {
      const key = `${String(corp).trim()}\u0000${String(agent).trim()}`;
      const list = byAgent.get(key) ?? [];
      list.push(app);
      byAgent.set(key, list);
    }
  }
  const describe = (app: RawApp) =>
    app.index !== undefined ? `apps entry ${app.index + 1}` : "the WECOM_CALLBACK_* variables";
  for (const [name, list] of byName) {
    if (list.length < 2) continue;
    problems.push({
      app: name,
      key: "name",
      from: "config.yaml",
      message: `is used by ${list.length} apps (${list.map(describe).join(", ")}).`,
      fix: "Give each app its own name; it is also the callback path <path>/<name>.",
    });
  }
  for (const list of byAgent.values()) {
    if (list.length < 2) continue;
    problems.push({
      app: list[0].label,
      key: "corp_id, agent_id",
      from: list[0].fields.corp_id!.from,
      message: `are the same in ${list.length} apps (${
        list.map((app) => `"${app.label}"`).join(", ")
      }): the same WeCom app is configured twice.`,
      fix: "Remove the extra entry, or correct its agent_id to the other app's AgentId.",
    });
  }
  return problems;
}
