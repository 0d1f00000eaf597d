/**
 * A fake OpenAI-compatible speech-to-text server: `POST /v1/audio/transcriptions`
 * (multipart `file`, `model`, `response_format`, `language`) answering
 * `{"text": …}`. Records what it received. Listens on 127.0.0.1, port 0.
 *
 * @example Usage
 * ```ts ignore
 * import { startFakeTranscription } from "./transcription_api.ts";
 * const stt = startFakeTranscription({ text: "你好" });
 * // … gateway.media.transcription.base_url = stt.url …
 * await stt.close();
 * ```
 *
 * @module
 */

/** One request the fake received. */
export interface FakeTranscriptionRequest {
  path: string;
  authorization: string;
  model: string;
  language: string;
  filename: string;
  contentType: string;
  bytes: Uint8Array;
}

/** A running fake. */
export interface FakeTranscription {
  /** Base URL ending in `/v1`. */
  url: string;
  requests: FakeTranscriptionRequest[];
  /** The next answers: text, or an HTTP status with an OpenAI error body. */
  answer(next: { text: string } | { status: number; error: string }): void;
  close(): Promise<void>;
}

/** Starts the fake; `text` is the transcript of every request until `answer()` changes it. */
export function startFakeTranscription(options: { text?: string } = {}): FakeTranscription {
  const requests: FakeTranscriptionRequest[] = [];
  let next: { text: string } | { status: number; error: string } = {
    text: options.text ?? "transcript",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/audio/transcriptions") {
      await req.body?.cancel();
      return new Response("not found", { status: 404 });
    }
    const form = await req.formData();
    const file = form.get("file");
    requests.push({
      path: url.pathname,
      authorization: req.headers.get("authorization") ?? "",
      model: String(form.get("model") ?? ""),
      language: String(form.get("language") ?? ""),
      filename: file instanceof File ? file.name : "",
      contentType: file instanceof File ? file.type : "",
      bytes: file instanceof File ? new Uint8Array(await file.arrayBuffer()) : new Uint8Array(),
    });
    if ("status" in next) {
      return Response.json({ error: { message: next.error } }, { status: next.status });
    }
    return Response.json({ text: next.text });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    requests,
    answer(value) {
      next = value;
    },
    close: () => server.shutdown(),
  };
}
