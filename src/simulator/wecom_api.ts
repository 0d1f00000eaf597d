/**
 * A simulated WeCom API server (used by tests, the demo and the simulator), following the documented behaviour
 * (WeCom API facts §5–§8). Started on 127.0.0.1, port 0.
 *
 * One module per concept under `wecom_api/`: the records (`types.ts`), the
 * default app (`app.ts`), the state (`state.ts`), the route families
 * (`token.ts`, `message.ts`, `media.ts`), fault injection (`faults.ts`) and the
 * HTTP front (`server.ts`). This module is the public entry.
 *
 * Routes:
 * - `GET /cgi-bin/gettoken?corpid&corpsecret`: 41002 / 41004 missing, 40013
 *   unknown corp, 40001 wrong secret; else a new random token valid
 *   `tokenTtlSeconds` (older tokens stay valid until their own expiry).
 * - `POST /cgi-bin/message/send?access_token`: 41001 missing token, 40014
 *   unknown or revoked, 42001 expired; 40058 body not JSON; 40056 agentid
 *   missing, 301002 agentid of another app; 82001 no touser; 40008 unknown
 *   msgtype; 44004 empty text/markdown; 40007 no media_id. With `users` set,
 *   unknown members are listed in `invaliduser`, and 81013 when all are unknown.
 *   Text and markdown over 2048 UTF-8 bytes: by default (`oversize:
 *   "truncate"`, WeCom's documented behaviour for text) the message is delivered
 *   cut at 2048 bytes with `truncated: true`; with `oversize: "reject"` it is
 *   refused with 45002.
 *   Per app and member, more than 30 deliveries in 60 s or 1000 in an hour:
 *   answered errcode 0 with a msgid but not delivered (recorded in
 *   `state.dropped`), as WeCom drops the excess silently. Only delivered
 *   messages count towards the windows.
 *   `enable_duplicate_check: 1`: WeCom documents "在一定时间间隔内，同样内容（请求json）
 *   的消息，不会重复收到" (api-facts §6a), so a request whose whole JSON equals
 *   that of a message delivered within `duplicate_check_interval` (default
 *   1800 s, at most 4 h) is answered errcode 0 with the original msgid and not
 *   delivered again (recorded in `state.duplicatesSuppressed`). The same
 *   request JSON means the earlier one carried the same two duplicate-check
 *   fields: a copy sent without them is no original. `duplicateCheck:
 *   "content"` takes the other reading of the same sentence (the message
 *   alone, the two fields aside, against any delivered message) for tests
 *   that must hold under both.
 * - `POST /cgi-bin/message/recall?access_token`: 0 when the msgid is known, sent
 *   by the same app, not yet recalled and at most 24 h old; else 40058 (WeCom's
 *   code for a recall by another app; its code for an unknown msgid is not
 *   documented, so the fake uses 40058 with a different errmsg). A recalled
 *   message stays in `delivered` with `recalled: true`.
 * - `POST /cgi-bin/media/upload?access_token&type`: multipart/form-data with
 *   the file in field `media` (file name and content type kept). 40004 for a
 *   type other than image/voice/video/file, or an image that is not JPG/PNG,
 *   voice that is not AMR, video that is not MP4 (judged by the bytes, as
 *   WeCom does); 41005 no `media` field; 44001 for 5 bytes or fewer; over the
 *   limits (image 10 MB → 40009, video 10 MB → 40011, voice 2 MB → 40006,
 *   file 20 MB → 45001). Answers `{type, media_id, created_at}`; uploads are
 *   kept in `state.media` (see `uploads()`).
 * - `GET /cgi-bin/media/get?access_token&media_id`: the file (binary, its
 *   content type, `Content-Disposition: attachment; filename="…"`) for uploaded
 *   media and media registered with `addMedia()` (what users send); 40007
 *   JSON for an unknown or expired (3 days) id. Honours `Range: bytes=a-b`
 *   (206 with `Content-Range`); a file over `mediaGetMaxBytes` without a
 *   `Range` header answers 830002, as WeCom does for large files.
 *
 * Injected behaviours (`inject`) are consumed in order, per API (then from the
 * `"any"` queue), after the request is recorded in `received` and before normal
 * handling:
 * - `{ errcode }`: that errcode with a WeCom-like errmsg;
 * - `{ httpStatus }`: that HTTP status with a non-JSON body;
 * - `{ delayMs }`: wait, then handle normally: a send the client gave up on is
 *   still delivered, as with the real API;
 * - `"drop-connection"`: HTTP 200 headers, then the connection breaks before a
 *   body arrives; nothing is handled.
 *
 * @example Usage
 * ```ts ignore
 * import { fakeAppConfig, startFakeWeComApi } from "./wecom_api.ts";
 * const api = startFakeWeComApi();
 * const app = fakeAppConfig(api.url);
 * api.inject("send", [{ errcode: -1 }]);
 * // … run the client against app …
 * await api.close();
 * ```
 *
 * @module
 */

export { FAKE_APP, fakeAppConfig } from "./wecom_api/app.ts";
export { startFakeWeComApi } from "./wecom_api/server.ts";
export type {
  FakeApiName,
  FakeApp,
  FakeBehaviour,
  FakeMedia,
  FakeMessage,
  FakeRequest,
  FakeState,
  FakeWeComApi,
  FakeWeComOptions,
} from "./wecom_api/types.ts";
