/**
 * Speech to text for inbound voice messages, through an OpenAI-compatible
 * `POST {base_url}/audio/transcriptions` (multipart: `file`, `model`,
 * `response_format=json`, optional `language`; answer `{"text": "…"}`).
 *
 * WeCom voice is AMR, which OpenAI's hosted API does not accept; servers such
 * as faster-whisper-server or whisper.cpp do. With `ffmpeg` configured the
 * audio is converted to 16 kHz mono WAV first, in a subprocess that is killed
 * when the job is aborted.
 *
 * Errors are short, name the HTTP status and the API's own message, and never
 * contain the API key.
 *
 * @example Usage
 * ```ts ignore
 * import { transcribe } from "./transcribe.ts";
 * const text = await transcribe(config.media.transcription, {
 *   bytes, filename: "42.amr", contentType: "audio/amr",
 * }, { signal });
 * ```
 *
 * @module
 */

import type { TranscriptionConfig } from "../config/types.ts";
import { describeFetchError, redactSecrets, shorten } from "../text/format.ts";
import { guardedFetch, RedirectRefusedError } from "../guarded_fetch.ts";

/** Options of {@linkcode transcribe}. */
export interface TranscribeOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Timeout of the API call and of the conversion, each, ms (default 120 000). */
  timeoutMs?: number;
}

/** The audio to transcribe. */
export interface Audio {
  bytes: Uint8Array;
  filename: string;
  contentType: string;
}

/**
 * Returns the transcript of `audio` (trimmed; may be empty for silence).
 *
 * @throws {Error} With a short reason when the API or the conversion fails.
 *
 * @example Usage
 * ```ts ignore
 * import { transcribe } from "./transcribe.ts";
 * const text = await transcribe(settings, { bytes, filename: "a.amr", contentType: "audio/amr" });
 * ```
 */
export async function transcribe(
  config: TranscriptionConfig,
  audio: Audio,
  options: TranscribeOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  let file = audio;
  if (config.ffmpeg) {
    const wav = await convertToWav(config.ffmpeg, audio.bytes, timeoutMs, options.signal);
    file = {
      bytes: wav,
      filename: audio.filename.replace(/\.[^.]*$/, "") + ".wav",
      contentType: "audio/wav",
    };
  }
  const url = `${config.baseUrl.replace(/\/+$/, "")}/audio/transcriptions`;
  const scrub = (text: string) => redactSecrets(text, [config.apiKey]);
  const form = new FormData();
  form.append(
    "file",
    new File([file.bytes as BlobPart], file.filename, { type: file.contentType }),
  );
  form.append("model", config.model);
  form.append("response_format", "json");
  if (config.language) form.append("language", config.language);
  const headers: Record<string, string> = {};
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (options.signal) signals.push(options.signal);
  let response: Response;
  let body: string;
  try {
    response = await guardedFetch(url, {
      method: "POST",
      headers,
      body: form,
      signal: AbortSignal.any(signals),
    }, { fetch: options.fetch });
    body = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    if (error instanceof RedirectRefusedError) {
      throw new Error(
        scrub(
          `the transcription API (gateway.media.transcription.base_url) failed: ${error.message}`,
        ),
      );
    }
    throw new Error(
      scrub(
        `could not reach the transcription API at ${hostOf(url)}: ${describeFetchError(error)}`,
      ),
    );
  }
  let value: { text?: unknown; error?: { message?: unknown } | string; message?: unknown } | null =
    null;
  try {
    value = JSON.parse(body);
  } catch {
    value = null;
  }
  if (!response.ok) {
    const reason = typeof value?.error === "string"
      ? value.error
      : typeof value?.error?.message === "string"
      ? value.error.message
      : typeof value?.message === "string"
      ? value.message
      : body.replace(/\s+/g, " ").trim();
    throw new Error(
      scrub(
        `the transcription API answered HTTP ${response.status}${
          reason ? `: ${shorten(reason, 160)}` : ""
        }`,
      ),
    );
  }
  if (typeof value?.text !== "string") {
    // Some servers answer text/plain even when asked for JSON.
    if (value === null && body.trim() !== "") return body.trim();
    throw new Error('the transcription API answered without a "text" field');
  }
  return value.text.trim();
}

/**
 * Converts audio to 16 kHz mono WAV with ffmpeg (stdin to stdout); kills it
 * when `signal` aborts or after `timeoutMs`.
 */
async function convertToWav(
  ffmpeg: string,
  bytes: Uint8Array,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ffmpeg, {
      args: [
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        "pipe:0",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-f",
        "wav",
        "pipe:1",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "not found" : describeFetchError(error);
    throw new Error(
      `cannot run ffmpeg (${reason}): check gateway.media.transcription.ffmpeg`,
    );
  }
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(kill, timeoutMs);
  signal?.addEventListener("abort", kill, { once: true });
  try {
    const writing = (async () => {
      const writer = child.stdin.getWriter();
      try {
        await writer.write(bytes);
        await writer.close();
      } catch {
        // ffmpeg stopped reading: its exit status tells why
      }
    })();
    const [output] = await Promise.all([child.output(), writing]);
    if (signal?.aborted) throw signal.reason ?? new Error("the conversion was stopped");
    if (!output.success) {
      const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").pop() ?? "";
      throw new Error(
        `ffmpeg could not convert the voice message (exit ${output.code})${
          stderr ? `: ${shorten(stderr, 160)}` : ""
        }`,
      );
    }
    return output.stdout;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", kill);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(invalid base URL)";
  }
}
