/**
 * The lines of a child process's output stream, as they come.
 *
 * @example Usage
 * ```ts ignore
 * import { lines } from "../lib/lines.ts";
 * for await (const line of lines(child.stdout)) if (line.includes("running")) break;
 * ```
 *
 * @module
 */

/**
 * Yields each line of `stream` (without its newline), the last one even unterminated.
 *
 * @example Usage
 * ```ts ignore
 * for await (const line of lines(child.stdout)) if (line.includes("running")) break;
 * ```
 */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let newline;
    while ((newline = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
  }
  if (rest !== "") yield rest;
}
