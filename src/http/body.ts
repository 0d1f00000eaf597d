/**
 * Reading a request body with a size cap enforced while reading and a deadline.
 *
 * @example Usage
 * ```ts
 * import { readBody } from "./body.ts";
 * const text = await readBody(new Request("http://x/", { method: "POST", body: "hi" }), 1024, 1000);
 * console.assert(text === "hi");
 * ```
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";

/** Why a body could not be read; `status` is the HTTP status to answer. */
export class BodyError extends Error {
  /** 413 too large, 408 too slow, 400 not UTF-8 or broken. */
  status: 400 | 408 | 413;
  constructor(status: 400 | 408 | 413, message: string) {
    super(message);
    this.name = "BodyError";
    this.status = status;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads `request`'s body as UTF-8 text of at most `maxBytes`, failing fast with
 * 413 as soon as more arrives (or Content-Length says so), and with 408 when
 * the whole body has not arrived within `timeoutMs`.
 *
 * A body with a Content-Length (WeCom always sends one) is read in one call:
 * the HTTP server delivers exactly that many bytes, so the cap holds without
 * counting chunks. A body without a length (chunked) is read chunk by chunk,
 * each read raced against the deadline, and refused as soon as it passes the
 * cap.
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  timeoutMs: number,
): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw new BodyError(413, `The body is ${declared} bytes; at most ${maxBytes} are accepted.`);
  }
  if (request.body === null) return "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BodyError(408, `The body did not arrive within ${timeoutMs} ms.`)),
      timeoutMs,
    );
  });
  let bytes: Uint8Array;
  try {
    bytes = declared !== null && /^\d+$/.test(declared)
      ? await readDeclared(request, maxBytes, deadline)
      : await readChunks(request.body.getReader(), maxBytes, deadline);
  } finally {
    clearTimeout(timer);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw new BodyError(400, "The body is not valid UTF-8.");
  }
}

/** A body of declared length (at most the cap, checked by the caller): one read. */
async function readDeclared(
  request: Request,
  maxBytes: number,
  deadline: Promise<never>,
): Promise<Uint8Array> {
  const reading = request.bytes();
  // Settled either way: after a 408 the connection is dropped and the read fails.
  reading.catch(() => {});
  let bytes: Uint8Array;
  try {
    bytes = await Promise.race([reading, deadline]);
  } catch (error) {
    if (error instanceof BodyError) throw error;
    throw new BodyError(400, `The body could not be read: ${(error as Error).message}`);
  }
  // The server holds a body to its Content-Length; a Request built in process need not.
  if (bytes.byteLength > maxBytes) {
    throw new BodyError(
      413,
      `The body is over ${maxBytes} bytes; at most ${maxBytes} are accepted.`,
    );
  }
  return bytes;
}

/** A body of unknown length, chunk by chunk, refused with 413 as soon as it passes the cap. */
async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
  deadline: Promise<never>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        throw new BodyError(
          413,
          `The body is over ${maxBytes} bytes; at most ${maxBytes} are accepted.`,
        );
      }
      chunks.push(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof BodyError) throw error;
    throw new BodyError(400, `The body could not be read: ${(error as Error).message}`);
  }
  return concatBytes(chunks);
}
