/**
 * Recognising the commands a user can send instead of a request for the agent.
 *
 * A text message whose whole content, trimmed, is one of `/reset`, `/new`,
 * `/stop`, `/status` or `/help` (any letter case) is a command, and so is a
 * menu click whose key is one (a menu item with key `/reset`). Commands are
 * answered by the job runner itself, without waiting for the conversation's
 * running agent job (see `./commands.ts`).
 *
 * @module
 */

import type { InboundMessage } from "./message.ts";

/** What a command asks for; `/new` is an alias of `/reset`. */
export type JobCommand = "reset" | "stop" | "status" | "help";

const COMMANDS: Record<string, JobCommand> = {
  "/reset": "reset",
  "/new": "reset",
  "/stop": "stop",
  "/status": "status",
  "/help": "help",
};

const LONGEST_COMMAND = Math.max(...Object.keys(COMMANDS).map((command) => command.length));
/** Whitespace around a command that is still accepted (a pasted command with stray newlines). */
const MAX_PADDING = 64;

/**
 * Returns the command a message carries, or `null` when it is a request for the agent.
 *
 * @example Usage
 * ```ts
 * import { parseCommand } from "./command.ts";
 * const base = { corpId: "ww1", userId: "u1", createTime: 0, agentId: "1", msgId: "1" };
 * console.assert(parseCommand({ ...base, type: "text", content: " /stop " }) === "stop");
 * console.assert(parseCommand({ ...base, type: "text", content: "/stop now" }) === null);
 * ```
 */
export function parseCommand(message: InboundMessage): JobCommand | null {
  const text = message.type === "text"
    ? message.content
    : message.type === "event" && message.event === "click"
    ? message.eventKey
    : null;
  // A long message is never a command: skip trimming and lower-casing kilobytes of text.
  if (text === null || text.length > LONGEST_COMMAND + MAX_PADDING) return null;
  const word = text.trim().toLowerCase();
  return Object.hasOwn(COMMANDS, word) ? COMMANDS[word] : null;
}
