import assert from "node:assert/strict";
import { openaiBackend } from "../../src/agent/backends/openai.ts";
import { startFakeOpenAi } from "../fakes/openai_api.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import type { HistoryTurn } from "../../src/records/agent.ts";
import { agentConfig, live, textRequest } from "./fixtures.ts";

const API_KEY = "sk-test-0123456789abcdef";

function config(baseUrl: string, overrides: Partial<AgentConfig["openai"]> = {}): AgentConfig {
  return agentConfig({
    kind: "openai",
    openai: {
      baseUrl,
      apiKey: API_KEY,
      model: "qwen-plus",
      systemPrompt: "You are a helpful assistant.",
      historyMaxBytes: 4000,
      ...overrides,
    },
  });
}

const request = (text: string, history: HistoryTurn[] = []) => textRequest(text, { history });

Deno.test("openai: sends model, system prompt, history in order, then the user text", async () => {
  const fake = startFakeOpenAi({ reply: "第三个回答", apiKey: API_KEY });
  try {
    const history: HistoryTurn[] = [
      { role: "user", content: "first question" },
      { role: "assistant", content: "first answer" },
      { role: "user", content: "第二个问题" },
      { role: "assistant", content: "second answer" },
    ];
    const reply = await openaiBackend(request("third 🙂", history), config(fake.url), live());
    assert.equal(reply.text, "第三个回答");
    assert.equal(fake.requests.length, 1);
    const seen = fake.requests[0];
    assert.equal(seen.path, "/v1/chat/completions");
    assert.equal(seen.authorization, `Bearer ${API_KEY}`);
    assert.equal(seen.body.model, "qwen-plus");
    assert.deepEqual(seen.body.messages, [
      { role: "system", content: "You are a helpful assistant." },
      ...history,
      { role: "user", content: "third 🙂" },
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("openai: no system message when the prompt is empty; base URL may end in a slash", async () => {
  const fake = startFakeOpenAi({ reply: "ok" });
  try {
    await openaiBackend(request("hi"), config(fake.url + "/", { systemPrompt: "" }), live());
    assert.deepEqual(fake.requests[0].body.messages, [{ role: "user", content: "hi" }]);
  } finally {
    await fake.close();
  }
});

Deno.test("openai: think blocks are stripped from the answer", async () => {
  const fake = startFakeOpenAi({
    reply: { think: "The user greets me.\nI should greet back.", content: "\n你好！" },
  });
  try {
    assert.equal((await openaiBackend(request("hi"), config(fake.url), live())).text, "你好！");
    fake.setReply("Reasoning the template opened.</think>\n\nJust the answer.");
    assert.equal(
      (await openaiBackend(request("hi"), config(fake.url), live())).text,
      "Just the answer.",
    );
  } finally {
    await fake.close();
  }
});

Deno.test("openai: an answer that is only reasoning is an error, not an empty reply", async () => {
  const fake = startFakeOpenAi({ reply: "<think>I ran out of tokens while thinking" });
  try {
    await assert.rejects(
      openaiBackend(request("hi"), config(fake.url), live()),
      /only its reasoning and no answer/,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("openai: HTTP 500 is a clear error with the status and the API's message, without the key", async () => {
  const fake = startFakeOpenAi({
    reply: { status: 500, error: `Internal error while serving key ${API_KEY}` },
  });
  try {
    await assert.rejects(
      openaiBackend(request("hi"), config(fake.url), live()),
      (error: Error) => {
        assert.match(
          error.message,
          /the model API at 127\.0\.0\.1:\d+ answered HTTP 500: Internal error/,
        );
        assert.ok(!error.message.includes(API_KEY), error.message);
        assert.ok(!error.message.includes("0123456789abcdef"), error.message);
        return true;
      },
    );
  } finally {
    await fake.close();
  }
});

Deno.test("openai: a wrong key is reported as HTTP 401 with the API's explanation", async () => {
  const fake = startFakeOpenAi({ apiKey: "sk-the-right-one" });
  try {
    await assert.rejects(
      openaiBackend(request("hi"), config(fake.url), live()),
      /HTTP 401: Incorrect API key provided/,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("openai: a malformed answer is a clear error", async () => {
  const fake = startFakeOpenAi({ reply: { rawBody: "<html>gateway</html>" } });
  try {
    await assert.rejects(
      openaiBackend(request("hi"), config(fake.url), live()),
      /did not answer with JSON/,
    );
    fake.setReply({ rawBody: JSON.stringify({ choices: [] }) });
    await assert.rejects(
      openaiBackend(request("hi"), config(fake.url), live()),
      /without choices\[0\]\.message\.content/,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("openai: the signal stops a slow model call", async () => {
  const fake = startFakeOpenAi({ reply: { content: "late", delayMs: 5000 } });
  try {
    const started = performance.now();
    await assert.rejects(openaiBackend(request("hi"), config(fake.url), AbortSignal.timeout(150)));
    assert.ok(performance.now() - started < 1000);
  } finally {
    await fake.close();
  }
});

Deno.test("openai: an unreachable API names the host and never the key", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(
    openaiBackend(request("hi"), config(`http://127.0.0.1:${port}/v1`), live()),
    (error: Error) => {
      assert.match(error.message, new RegExp(`could not reach the model API at 127.0.0.1:${port}`));
      assert.ok(!error.message.includes(API_KEY));
      return true;
    },
  );
});

/** Answers each chat completions call with the next of `answers` (the last repeats). */
function scriptedServer(answers: (() => Response)[]) {
  const seen: Headers[] = [];
  const bodies: Record<string, unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push(new Headers(req.headers));
    bodies.push(await req.json());
    return answers[Math.min(seen.length - 1, answers.length - 1)]();
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1`,
    seen,
    bodies,
    close: () => server.shutdown(),
  };
}

function completion(content: string, finish: string, headers: Record<string, string> = {}) {
  return () =>
    Response.json({
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish }],
    }, { headers });
}

Deno.test("openai: finish_reason error and content_filter are failures; length is delivered with the marker", async () => {
  const server = scriptedServer([
    completion("API call failed after 3 retries: Connection error.", "error"),
    completion("something", "content_filter"),
    completion("The first half", "length"),
    completion("Fine answer", "stop", { "X-Hermes-Completed": "false" }),
  ]);
  try {
    const settings = { ...config(server.url), truncationMarker: " (cut)" };
    const deadline = () => textRequest("hi", { deadlineAt: Date.now() + 5000 });
    await assert.rejects(openaiBackend(deadline(), settings, live()), /reported a failed run/);
    await assert.rejects(openaiBackend(deadline(), settings, live()), /content_filter/);
    assert.equal((await openaiBackend(deadline(), settings, live())).text, "The first half (cut)");
    // A server that says the run did not complete is believed, whatever finish_reason says.
    await assert.rejects(openaiBackend(deadline(), settings, live()), /completed false/);
    assert.equal(server.seen.length, 4, "none of these is retried");
  } finally {
    await server.close();
  }
});

Deno.test("openai: 429 waits for Retry-After, 503 is retried, 400 and 404 fail at once with the fix", async () => {
  const server = scriptedServer([
    () =>
      Response.json({ error: { message: "slow down" } }, {
        status: 429,
        headers: { "Retry-After": "1" },
      }),
    () => Response.json({ error: { message: "overloaded" } }, { status: 503 }),
    completion("at last", "stop"),
  ]);
  try {
    const started = performance.now();
    const reply = await openaiBackend(
      textRequest("hi", { deadlineAt: Date.now() + 8000 }),
      config(server.url),
      live(),
    );
    assert.equal(reply.text, "at last");
    assert.equal(server.seen.length, 3);
    assert.ok(performance.now() - started >= 1000, "Retry-After: 1 was honoured");
  } finally {
    await server.close();
  }
  for (
    const [status, fix] of [[400, /check agent\.openai\.model/], [
      404,
      /check agent\.openai\.base_url/,
    ]] as const
  ) {
    const refusing = scriptedServer([
      () => Response.json({ error: { message: "nope" } }, { status }),
    ]);
    try {
      await assert.rejects(
        openaiBackend(
          textRequest("hi", { deadlineAt: Date.now() + 5000 }),
          config(refusing.url),
          live(),
        ),
        fix,
      );
      assert.equal(refusing.seen.length, 1, `HTTP ${status} is not retried`);
    } finally {
      await refusing.close();
    }
  }
});

Deno.test("openai: a retry never starts after the job's deadline", async () => {
  const server = scriptedServer([
    () =>
      Response.json({ error: { message: "wait" } }, {
        status: 429,
        headers: { "Retry-After": "30" },
      }),
  ]);
  try {
    const started = performance.now();
    await assert.rejects(
      openaiBackend(
        textRequest("hi", { deadlineAt: Date.now() + 2000 }),
        config(server.url),
        live(),
      ),
      /HTTP 429: wait/,
    );
    assert.equal(server.seen.length, 1);
    assert.ok(performance.now() - started < 1000, "gave up at once: 30 s do not fit in 2 s");
  } finally {
    await server.close();
  }
});

Deno.test("openai: extra headers are sent, and the opaque member id as user", async () => {
  const server = scriptedServer([completion("ok", "stop")]);
  try {
    const settings = config(server.url, { headers: { "X-Tenant": "wecom", "X-Trace": "on" } });
    await openaiBackend(
      textRequest("hi", { session: { sessionId: "wecom-s", memberId: "wecom-m" } }),
      settings,
      live(),
    );
    const [sent] = server.seen;
    assert.equal(sent.get("x-tenant"), "wecom");
    assert.equal(sent.get("authorization"), `Bearer ${API_KEY}`);
    assert.equal(server.bodies[0].user, "wecom-m");
  } finally {
    await server.close();
  }
});

Deno.test("openai: a 307 to another host is an error; the key and the message never go there", async () => {
  const { api, other, close } = crossOriginRedirect(
    307,
    () => Response.json({ choices: [{ message: { content: "the other host's answer" } }] }),
    "/v1/x",
  );
  try {
    await assert.rejects(
      openaiBackend(request("hi"), config(`${api.origin}/v1`), live()),
      (error: Error) => {
        assert.match(error.message, /model API at \S+ \(agent\.openai\.base_url\) failed/);
        assert.ok(error.message.includes(`a redirect to ${other.origin}`), error.message);
        assert.ok(!error.message.includes(API_KEY));
        return true;
      },
    );
    assert.deepEqual(other.hits, []);
  } finally {
    await close();
  }
});
