/**
 * What an agent backend receives and returns.
 *
 * Backends run inside a Web Worker (`./worker.ts`), so everything here is
 * structured-clone friendly plain data.
 *
 * @module
 */

import type { InboundMessage } from "./message.ts";

/** One turn of stored conversation history (openai backend). */
export interface HistoryTurn {
  role: "user" | "assistant";
  content: string;
}

/** A file that came with the user's message (image, voice, video), saved in the attachment store. */
export interface InboundAttachment {
  kind: "image" | "voice" | "video";
  /** Absolute path of the saved file on the gateway's machine. */
  path: string;
  /** Its file name (the last part of `path`). */
  filename: string;
  /** Bytes. */
  size: number;
  /** As WeCom sent it, e.g. `image/jpeg`, `audio/amr`. */
  contentType: string;
  /** Voice: the transcript, when transcription is configured and worked. */
  transcript?: string;
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
  /** Files of the message, downloaded before the run (absent or empty: none). */
  attachments?: InboundAttachment[];
  /** Why a file of the message could not be fetched or transcribed, for the agent. */
  mediaErrors?: string[];
  /**
   * What WeCom renders and what the agent can send (markdown subset, media types
   * and limits, 2048-byte split); the openai backend adds it to its system prompt.
   */
  platformHint?: string;
  /**
   * Opaque ids of the conversation (epoch included) and of the member, for
   * the openai (`user`) and hermes (session headers) backends; see
   * `./session_ids.ts`.
   */
  session?: { sessionId: string; memberId: string };
  /** Epoch ms by which the job must end (`agent.timeout_seconds`): no retry starts after it. */
  deadlineAt?: number;
}

/** A file the agent wants to send. */
export interface ReplyAttachment {
  /** Path of the file on the gateway's machine (or, with `data`, the name to give it). */
  path: string;
  /** WeCom media type; judged from the file itself when absent. */
  kind?: "image" | "voice" | "video" | "file";
  /**
   * The file's bytes, when the agent returned them rather than a path (http
   * backend, `data_base64`): written to the attachment store before delivery.
   */
  data?: Uint8Array;
}

/** The output of one agent run. */
export interface AgentReply {
  /** Reply text; may be empty when only attachments are sent. */
  text: string;
  attachments: ReplyAttachment[];
}
