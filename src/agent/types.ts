/**
 * What an agent backend receives and returns.
 *
 * Backends run inside a Web Worker (`./worker.ts`), so everything here is
 * structured-clone friendly plain data.
 *
 * @module
 */

import type { InboundMessage } from "../intake/message.ts";

/** One turn of stored conversation history (openai backend). */
export interface HistoryTurn {
  role: "user" | "assistant";
  content: string;
}

/** The input of one agent run. */
export interface AgentRequest {
  jobId: string;
  /** `corp_id:user_id`. */
  conversation: string;
  app: string;
  corpId: string;
  agentId: string;
  userId: string;
  /** The message as text for the agent (a description for non-text messages). */
  text: string;
  message: InboundMessage;
  /** Earlier turns of this conversation, oldest first (empty for stateless backends). */
  history: HistoryTurn[];
}

/** A file the agent wants to send (issue: media out). */
export interface ReplyAttachment {
  path: string;
  /** WeCom media type; guessed from the extension when absent. */
  kind?: "image" | "voice" | "video" | "file";
}

/** The output of one agent run. */
export interface AgentReply {
  /** Reply text; may be empty when only attachments are sent. */
  text: string;
  attachments: ReplyAttachment[];
}
