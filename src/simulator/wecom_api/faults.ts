/**
 * Fault injection of the fake: behaviours queued per API (then from the
 * `"any"` queue), one consumed per request after it is recorded in `received`
 * and before normal handling:
 *
 * - `{ errcode }`: that errcode with a WeCom-like errmsg;
 * - `{ httpStatus }`: that HTTP status with a non-JSON body;
 * - `{ delayMs }`: wait, then handle normally: a send the client gave up on is
 *   still delivered, as with the real API;
 * - `"drop-connection"`: HTTP 200 headers, then the connection breaks before a
 *   body arrives; nothing is handled.
 *
 * @example Usage
 * ```ts ignore
 * import { createFaults } from "./faults.ts";
 * const faults = createFaults();
 * faults.inject("send", [{ errcode: -1 }]);
 * const answer = await applyFault(faults.next("send"), sleep); // the -1 answer
 * ```
 *
 * @module
 */

import { errorAnswer, WeComError } from "./errors.ts";
import type { FakeApiName, FakeBehaviour } from "./types.ts";

/** The queues of injected behaviours. */
export interface Faults {
  /** Queues `behaviours` for `api` (or for any API). */
  inject(api: FakeApiName | "any", behaviours: FakeBehaviour[]): void;
  /** Takes the next behaviour for a request to `api`, if one is queued. */
  next(api: FakeApiName): FakeBehaviour | undefined;
}

/** Creates empty fault queues. */
export function createFaults(): Faults {
  const queues = new Map<FakeApiName | "any", FakeBehaviour[]>();
  return {
    inject(api, behaviours) {
      const queue = queues.get(api) ?? [];
      queue.push(...behaviours);
      queues.set(api, queue);
    },
    next(api) {
      return queues.get(api)?.shift() ?? queues.get("any")?.shift();
    },
  };
}

/**
 * Acts out `behaviour`: the answer that replaces normal handling, or
 * undefined to handle the request normally (after sleeping `delayMs`).
 */
export async function applyFault(
  behaviour: FakeBehaviour | undefined,
  sleep: (ms: number) => Promise<void>,
): Promise<Response | undefined> {
  if (behaviour === undefined) return undefined;
  if (behaviour === "drop-connection") {
    return new Response(
      new ReadableStream({
        start(controller) {
          controller.error(new Error("fake WeCom API dropped the connection"));
        },
      }),
    );
  }
  if ("httpStatus" in behaviour) {
    return new Response(`<html><body>${behaviour.httpStatus}</body></html>`, {
      status: behaviour.httpStatus,
      headers: { "content-type": "text/html" },
    });
  }
  if ("errcode" in behaviour) {
    return errorAnswer(new WeComError(behaviour.errcode, behaviour.errmsg));
  }
  await sleep(behaviour.delayMs); // then handle normally
  return undefined;
}
