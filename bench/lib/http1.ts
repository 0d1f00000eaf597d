/**
 * A minimal HTTP/1.1 keep-alive client for the load driver: requests encoded
 * to bytes before any timing, written to a plain TCP connection, answers
 * read back with their status and body.
 *
 * `fetch` costs the load generator about 100 µs of CPU per request, on the
 * same two cores as the server under test; this client costs a fraction of
 * that, so more of the machine is left to the server and the figures say
 * more about it (the same client drives the bare `Deno.serve` ceiling). It
 * speaks only what the benchmarks need: one request at a time per
 * connection, answers with `Content-Length` or chunked bodies.
 *
 * @example Usage
 * ```ts ignore
 * import { encodePost, openConnection } from "./http1.ts";
 * const request = encodePost("127.0.0.1", 8645, "/wecom/callback?x=1", "<xml/>");
 * const connection = await openConnection("127.0.0.1", 8645);
 * const { status } = await connection.send(request);
 * connection.close();
 * ```
 *
 * @module
 */

import { concatBytes } from "../../src/bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF_CRLF = [13, 10, 13, 10];

/** An answer: status code and body bytes. */
export interface Http1Response {
  status: number;
  body: Uint8Array;
}

/** One keep-alive connection; `send` must not be called again before it resolves. */
export interface Http1Connection {
  send(request: Uint8Array): Promise<Http1Response>;
  /** Closes the socket; a pending `send` rejects. Idempotent. */
  close(): void;
  /** False once the server or `close` ended the connection. */
  readonly open: boolean;
}

/** Encodes `POST path` with a `text/xml` body as HTTP/1.1 bytes, ready to write. */
export function encodePost(host: string, port: number, path: string, body: string): Uint8Array {
  const payload = encoder.encode(body);
  const head = encoder.encode(
    `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: text/xml\r\n` +
      `Content-Length: ${payload.length}\r\n\r\n`,
  );
  const request = new Uint8Array(head.length + payload.length);
  request.set(head);
  request.set(payload, head.length);
  return request;
}

function indexOfHeadEnd(buffer: Uint8Array, length: number, from: number): number {
  for (let i = Math.max(0, from); i + 3 < length; i++) {
    if (
      buffer[i] === CRLF_CRLF[0] && buffer[i + 1] === CRLF_CRLF[1] &&
      buffer[i + 2] === CRLF_CRLF[2] && buffer[i + 3] === CRLF_CRLF[3]
    ) return i;
  }
  return -1;
}

/** Decodes a complete chunked body, or returns null when more bytes are needed. */
function dechunk(bytes: Uint8Array): Uint8Array | null {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    let lineEnd = -1;
    for (let i = at; i + 1 < bytes.length; i++) {
      if (bytes[i] === 13 && bytes[i + 1] === 10) {
        lineEnd = i;
        break;
      }
    }
    if (lineEnd < 0) return null;
    const size = parseInt(decoder.decode(bytes.subarray(at, lineEnd)).split(";")[0], 16);
    if (!Number.isFinite(size)) {
      throw new Error("Cannot read the answer as a chunk size is invalid");
    }
    const start = lineEnd + 2;
    if (size === 0) {
      // Last chunk: no trailers expected, just the final CRLF.
      if (bytes.length < start + 2) return null;
      return concatBytes(parts);
    }
    if (bytes.length < start + size + 2) return null;
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
}

/**
 * Opens a connection to `hostname:port`.
 *
 * @example Usage
 * ```ts ignore
 * import { openConnection } from "./http1.ts";
 * const connection = await openConnection("127.0.0.1", 8645);
 * ```
 */
export async function openConnection(hostname: string, port: number): Promise<Http1Connection> {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  let open = true;
  let buffer = new Uint8Array(16 * 1024);
  const close = () => {
    if (!open) return;
    open = false;
    try {
      conn.close();
    } catch {
      // already closed
    }
  };

  const send = async (request: Uint8Array): Promise<Http1Response> => {
    if (!open) throw new Error("Cannot send as the connection is closed");
    let written = 0;
    while (written < request.length) written += await conn.write(request.subarray(written));
    let length = 0;
    let headEnd = -1;
    let bodyStart = 0;
    let contentLength = -1;
    let chunked = false;
    let status = 0;
    let closeAfter = false;
    for (;;) {
      if (length === buffer.length) {
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const n = await conn.read(buffer.subarray(length));
      if (n === null) {
        close();
        throw new Error("Cannot read the answer as the server closed the connection");
      }
      const searchFrom = length - 3;
      length += n;
      if (headEnd < 0) {
        headEnd = indexOfHeadEnd(buffer, length, searchFrom);
        if (headEnd < 0) continue;
        const head = decoder.decode(buffer.subarray(0, headEnd));
        const lines = head.split("\r\n");
        status = Number(lines[0].split(" ")[1]);
        for (let i = 1; i < lines.length; i++) {
          const colon = lines[i].indexOf(":");
          const name = lines[i].slice(0, colon).trim().toLowerCase();
          const value = lines[i].slice(colon + 1).trim().toLowerCase();
          if (name === "content-length") contentLength = Number(value);
          else if (name === "transfer-encoding") chunked = value.includes("chunked");
          else if (name === "connection") closeAfter = value === "close";
        }
        bodyStart = headEnd + 4;
      }
      const received = buffer.subarray(bodyStart, length);
      let body: Uint8Array | null;
      if (chunked) body = dechunk(received);
      else if (contentLength >= 0) {
        body = received.length >= contentLength ? received.slice(0, contentLength) : null;
      } else if (status === 204 || status === 304) body = new Uint8Array(0);
      else {
        close();
        throw new Error(
          "Cannot read the answer as it has neither Content-Length nor chunked encoding",
        );
      }
      if (body === null) continue;
      if (closeAfter) close();
      return { status, body };
    }
  };

  return {
    send,
    close,
    get open() {
      return open;
    },
  };
}
