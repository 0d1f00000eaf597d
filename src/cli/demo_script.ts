/**
 * `demo` without options: the scripted conversation (a text, a message WeCom
 * retries, a long message split into parts, an image, a voice message and a
 * video), each step checked; 0 when every reply arrived as expected, 1 at the
 * first that did not.
 *
 * @example Usage
 * ```ts ignore
 * import { startDemo } from "../simulator/demo.ts";
 * import { runScript } from "./demo_script.ts";
 * const demo = await startDemo();
 * const code = await runScript(demo);
 * await demo.close();
 * ```
 *
 * @module
 */

import type { DemoEnvironment } from "../simulator/demo.ts";
import {
  CallbackRejectedError,
  type MediaMessageType,
  ReplyTimeoutError,
  type SimulatedUser,
} from "../simulator/user.ts";
import {
  bytesOf,
  CONSOLE,
  type DemoOutput,
  describePosts,
  preview,
  printExchange,
  stamp,
} from "./demo_output.ts";
import { taskCommand } from "./invocation.ts";

/** A failed expectation of the scripted conversation. */
class DemoCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoCheckError";
  }
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new DemoCheckError(message);
}

/**
 * The long message: numbered Chinese sentences without whitespace, so the
 * parts of the reply join back to exactly the original.
 *
 * @example Usage
 * ```ts
 * import { longDemoMessage } from "./demo_script.ts";
 * console.assert(new TextEncoder().encode(longDemoMessage(5000)).length >= 5000);
 * ```
 */
export function longDemoMessage(minBytes = 5000): string {
  let text = "";
  for (let n = 1; bytesOf(text) < minBytes; n++) {
    text += `第${n}句：企业微信的一条消息最多2048字节，网关把较长的回复切成几段，按顺序送达。`;
  }
  return text;
}

function sentenceRange(part: string): string {
  const numbers = [...part.matchAll(/第(\d+)句/g)].map((match) => match[1]);
  if (numbers.length === 0) return "";
  return numbers.length === 1
    ? ` (第${numbers[0]}句)`
    : ` (第${numbers[0]}句 … 第${numbers[numbers.length - 1]}句)`;
}

/** One step of the scripted conversation. */
interface Step {
  title: string;
  run(user: SimulatedUser, output: DemoOutput): Promise<string>;
}

/**
 * A media message whose file the simulated WeCom serves: the gateway must
 * download it (media/get) before the agent runs, and the echo agent's reply
 * names the file it got. A reply without the file (a download that failed)
 * fails the step.
 */
function mediaStep(type: MediaMessageType, title: string): Step {
  return {
    title,
    async run(user, output) {
      const { file, mediaId, ...exchange } = await user.sendMedia(type);
      const what = `${type} ${file.filename} (${file.bytes.length} bytes, ${file.contentType}), ` +
        `MediaId ${mediaId.slice(0, 12)}…`;
      for (const line of describePosts(exchange, what)) output.out(`  ${line}`);
      for (const reply of exchange.replies) {
        output.out(`  ${stamp(reply.afterMs)} gateway → user   ${reply.msgtype}:`);
        output.out(`             │ ${reply.content}`);
      }
      const reply = exchange.replies[0]?.content ?? "";
      const downloaded = new RegExp(
        `^\\[${type}\\] .* size=${file.bytes.length} type=${file.contentType.replace("/", "\\/")}$`,
      );
      expect(
        exchange.replies.length === 1 && downloaded.test(reply) && reply.includes(mediaId),
        `expected one reply naming the downloaded file (size=${file.bytes.length} ` +
          `type=${file.contentType}), got ${
            exchange.replies.map((one) => preview(one.content, 200)).join(", ") || "none"
          }. The gateway could not download the file: 'demo --verbose' shows why.`,
      );
      return `the gateway downloaded the ${type} (media/get, ${file.bytes.length} bytes) before ` +
        "the agent ran; the echo agent's reply is what it was given: the file's name, size and type";
    },
  };
}

const STEPS: Step[] = [
  {
    title: "A text message",
    async run(user, output) {
      const text = "你好, WeCom!";
      const exchange = await user.send(text);
      printExchange(output, exchange, `text ${preview(text)}`, false);
      expect(
        exchange.replies.length === 1 && exchange.replies[0].content === text,
        `expected one reply ${preview(text)}, got ${exchange.replies.length}: ${
          exchange.replies.map((reply) => preview(reply.content)).join(", ")
        }`,
      );
      return "the echo agent answered with the same text";
    },
  },
  {
    title: "WeCom retries a message (the same MsgId 3 times, as after a 5 s timeout)",
    async run(user, output) {
      const text = "Did you get this? 收到了吗？";
      const exchange = await user.send(text, { times: 3 });
      printExchange(output, exchange, `text ${preview(text)}, MsgId ${exchange.msgId}`, false);
      expect(
        exchange.replies.length === 1 && exchange.replies[0].content === text,
        `expected exactly one reply to the 3 deliveries of MsgId ${exchange.msgId}, got ${exchange.replies.length}`,
      );
      return "3 deliveries of one MsgId, exactly 1 reply: the gateway dropped the 2 retries";
    },
  },
  {
    title: "A long message (WeCom cuts text at 2048 bytes, so the reply comes in parts)",
    async run(user, output) {
      const text = longDemoMessage();
      const exchange = await user.send(text);
      for (
        const line of describePosts(exchange, `text of ${bytesOf(text)} bytes ${preview(text, 24)}`)
      ) {
        output.out(`  ${line}`);
      }
      exchange.replies.forEach((reply, i) => {
        output.out(
          `  ${stamp(reply.afterMs)} gateway → user   part ${i + 1}/${exchange.replies.length}: ` +
            `${reply.bytes} bytes${sentenceRange(reply.content)}`,
        );
      });
      const sizes = exchange.replies.map((reply) => reply.bytes);
      expect(exchange.replies.length >= 3, `expected at least 3 parts, got ${sizes.length}`);
      expect(
        sizes.every((size) => size <= 2048),
        `expected parts of at most 2048 bytes, got ${sizes.join(", ")}`,
      );
      expect(
        exchange.replies.map((reply) => reply.content).join("") === text,
        "expected the parts, joined in the order they arrived, to be the original text",
      );
      return `${sizes.length} parts of ${sizes.join(", ")} bytes (each ≤ 2048), in order; ` +
        "joined they are the original text";
    },
  },
  mediaStep("image", "An image (the simulated WeCom holds a real PNG for its MediaId)"),
  mediaStep("voice", "A voice message (AMR, as WeCom records voice)"),
  mediaStep("video", "A video"),
];

/**
 * Runs the scripted conversation, checking every step; resolves to the exit
 * code (0 when every reply arrived as expected, 1 at the first that did not).
 *
 * @example Usage
 * ```ts ignore
 * import { startDemo } from "../simulator/demo.ts";
 * import { runScript } from "./demo_script.ts";
 * const demo = await startDemo();
 * const code = await runScript(demo);
 * await demo.close();
 * ```
 */
export async function runScript(
  demo: DemoEnvironment,
  output: DemoOutput = CONSOLE,
): Promise<number> {
  const started = performance.now();
  for (const [i, step] of STEPS.entries()) {
    output.out("");
    output.out(`${i + 1}. ${step.title}`);
    try {
      const conclusion = await step.run(demo.user, output);
      output.out(`  ✓ ${conclusion}`);
    } catch (error) {
      if (
        error instanceof DemoCheckError || error instanceof ReplyTimeoutError ||
        error instanceof CallbackRejectedError
      ) {
        output.err(`  ✗ ${error.message}`);
        output.err(`\nThe demo failed at step ${i + 1} (${step.title}).`);
        return 1;
      }
      throw error;
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  output.out("");
  output.out(`Done: ${STEPS.length} exchanges, every reply arrived as expected (${seconds} s).`);
  output.out(`Type your own messages with: ${taskCommand("demo")} --interactive`);
  return 0;
}
