/**
 * The message family of the fake (WeCom API facts §5–§6a):
 *
 * - `POST /cgi-bin/message/send?access_token`: 40058 body not JSON; 40056
 *   agentid missing, 301002 agentid of another app; 82001 no touser; 40008
 *   unknown msgtype; 44004 empty text/markdown; 40007 no media_id. With `users`
 *   set, unknown members are listed in `invaliduser`, and 81013 when all are
 *   unknown. Text and markdown over 2048 UTF-8 bytes are delivered cut with
 *   `truncated: true` (`oversize: "truncate"`) or refused with 45002
 *   (`"reject"`). Per app and member, more than `perMinute` deliveries in 60 s
 *   or `perHour` in an hour are answered errcode 0 but dropped
 *   (`state.dropped`). `enable_duplicate_check: 1` answers a copy of a message
 *   delivered within `duplicate_check_interval` with the original msgid and
 *   does not deliver it (`state.duplicatesSuppressed`).
 * - `POST /cgi-bin/message/recall?access_token`: 0 when the msgid is known,
 *   sent by the same app, not yet recalled and at most 24 h old; else 40058.
 *
 * @example Usage
 * ```ts ignore
 * import { MESSAGE_ROUTES } from "./message.ts";
 * const send = MESSAGE_ROUTES["/cgi-bin/message/send"];
 * ```
 *
 * @module
 */

import { WeComError } from "./errors.ts";
import type { Route, RouteContext, RouteResult } from "./route.ts";
import { type Fake, randomToken } from "./state.ts";
import type { FakeMessage } from "./types.ts";

const MAX_CONTENT_BYTES = 2048;

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  let end = maxBytes;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not split a character
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * What a duplicate check compares: the whole request JSON (`request`), or the
 * request without the check's own two fields (`content`).
 */
function duplicateKey(body: Record<string, unknown>, mode: "request" | "content"): string {
  if (mode === "request") return canonicalJson(body);
  const rest = { ...body };
  delete rest.enable_duplicate_check;
  delete rest.duplicate_check_interval;
  return canonicalJson(rest);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : 1
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function send(fake: Fake, ctx: RouteContext): RouteResult {
  const { state, settings, duplicateKeys } = fake;
  const { json: body, app } = ctx;
  const agentid = body.agentid;
  if (agentid === undefined || agentid === "" || !Number.isFinite(Number(agentid))) {
    throw new WeComError(40056);
  }
  if (String(Number(agentid)) !== app.agentId) throw new WeComError(301002);
  const touser = typeof body.touser === "string" ? body.touser : "";
  if (touser === "") throw new WeComError(82001);
  const msgtype = String(body.msgtype ?? "");
  const raw = body[msgtype];
  const payload: Record<string, unknown> = raw && typeof raw === "object"
    ? { ...(raw as Record<string, unknown>) }
    : {};
  let truncated = false;
  if (msgtype === "text" || msgtype === "markdown") {
    const content = typeof payload.content === "string" ? payload.content : "";
    if (content === "") throw new WeComError(44004);
    if (new TextEncoder().encode(content).length > MAX_CONTENT_BYTES) {
      if (state.oversize === "reject") throw new WeComError(45002);
      payload.content = truncateUtf8(content, MAX_CONTENT_BYTES);
      truncated = true;
    }
  } else if (["image", "voice", "video", "file"].includes(msgtype)) {
    if (typeof payload.media_id !== "string" || payload.media_id === "") {
      throw new WeComError(40007);
    }
  } else {
    throw new WeComError(40008);
  }

  const members = touser === "@all" ? ["@all"] : touser.split("|").filter((u) => u !== "");
  const invalid = state.users && touser !== "@all"
    ? members.filter((u) => !state.users!.has(u))
    : [];
  const valid = members.filter((u) => !invalid.includes(u));
  if (valid.length === 0) throw new WeComError(81013);

  const msgid = randomToken(24);
  const key = duplicateKey(body, settings.duplicateMode);
  const interval = Math.min(Number(body.duplicate_check_interval ?? 1800) || 1800, 14_400);
  const records: FakeMessage[] = [];
  let answerMsgid = msgid;
  for (const member of valid) {
    const record: FakeMessage = {
      msgid,
      corpId: app.corpId,
      agentId: app.agentId,
      touser: member,
      msgtype,
      payload,
      body,
      at: ctx.now,
      truncated,
      recalled: false,
    };
    if (Number(body.enable_duplicate_check) === 1) {
      const original = state.delivered.find((m) =>
        m.agentId === app.agentId && m.corpId === app.corpId &&
        m.at >= ctx.now - interval * 1000 && duplicateKeys.get(m) === key
      );
      if (original) {
        answerMsgid = original.msgid;
        state.duplicatesSuppressed.push(record);
        continue;
      }
    }
    const mine = state.delivered.filter((m) =>
      m.agentId === app.agentId && m.corpId === app.corpId && m.touser === member
    );
    const lastMinute = mine.filter((m) => m.at > ctx.now - 60_000).length;
    const lastHour = mine.filter((m) => m.at > ctx.now - 3_600_000).length;
    if (lastMinute >= settings.perMinute || lastHour >= settings.perHour) {
      state.dropped.push(record);
      continue;
    }
    duplicateKeys.set(record, key);
    state.delivered.push(record);
    records.push(record);
  }
  if (records.length > 0) fake.messages.set(msgid, records);
  const answer: Record<string, unknown> = { errcode: 0, errmsg: "ok", msgid: answerMsgid };
  if (invalid.length > 0) answer.invaliduser = invalid.map((u) => u.toLowerCase()).join("|");
  return answer;
}

function recall(fake: Fake, ctx: RouteContext): RouteResult {
  const msgid = typeof ctx.json.msgid === "string" ? ctx.json.msgid : "";
  const records = fake.messages.get(msgid);
  if (!records) throw new WeComError(40058, "invalid msgid");
  if (records[0].agentId !== ctx.app.agentId || records[0].corpId !== ctx.app.corpId) {
    throw new WeComError(40058, "msgid not sent by this agent");
  }
  if (records[0].recalled) throw new WeComError(40058, "msg already recalled");
  if (ctx.now - records[0].at > 24 * 3_600_000) {
    throw new WeComError(40058, "msg can only be recalled within 24 hours");
  }
  for (const record of records) {
    record.recalled = true;
    record.recalledAt = ctx.now;
  }
  fake.state.recalls.push({ msgid, agentId: ctx.app.agentId, at: ctx.now });
  return { errcode: 0, errmsg: "ok" };
}

/** The message routes by path. */
export const MESSAGE_ROUTES: Record<string, Route> = {
  "/cgi-bin/message/send": {
    api: "send",
    method: "POST",
    auth: true,
    body: "json",
    handle: send,
  },
  "/cgi-bin/message/recall": {
    api: "recall",
    method: "POST",
    auth: true,
    body: "json",
    handle: recall,
  },
};
