import assert from "node:assert/strict";
import { httpBackend } from "../../src/agent/backends/http.ts";
import type { AgentConfig } from "../../src/config/types.ts";
import type { AgentRequest } from "../../src/records/agent.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";
import { agentConfig, live } from "./fixtures.ts";

function config(url: string, headers: Record<string, string> = {}): AgentConfig {
  return agentConfig({ kind: "http", http: { url, headers } });
}

const request: AgentRequest = {
  jobId: "job-7",
  conversation: "ww1:li",
  app: "support",
  corpId: "ww1",
  agentId: "1000003",
  userId: "li",
  text: '[location] 31.2304,121.4737 label="外滩" scale=15',
  message: {
    type: "location",
    latitude: 31.2304,
    longitude: 121.4737,
    scale: 15,
    label: "外滩",
    corpId: "ww1",
    userId: "li",
    createTime: 1,
    agentId: "1000003",
    msgId: "77",
  },
  history: [],
};

interface Seen {
  headers: Headers;
  body: unknown;
}

/** A webhook on 127.0.0.1:0 answering with `answer`; records what it received. */
function webhook(answer: (seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const entry = { headers: req.headers, body: await req.json() };
    seen.push(entry);
    return answer(entry);
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}/agent?token=abc`, seen, close: () => server.shutdown() };
}

Deno.test("http: posts the job as JSON with the configured headers; reply field is the answer", async () => {
  const hook = webhook(() => Response.json({ reply: "收到 👍", text: "ignored" }));
  try {
    const reply = await httpBackend(
      request,
      config(hook.url, {
        Authorization: "Bearer hook-secret",
        "X-Extra": "1",
        "Content-Type": "text/plain",
      }),
      live(),
    );
    assert.equal(reply.text, "收到 👍");
    assert.equal(hook.seen.length, 1);
    const { headers, body } = hook.seen[0];
    assert.equal(headers.get("authorization"), "Bearer hook-secret");
    assert.equal(headers.get("x-extra"), "1");
    assert.equal(headers.get("content-type"), "application/json");
    assert.deepEqual(body, {
      job_id: "job-7",
      conversation: "ww1:li",
      app: "support",
      corp_id: "ww1",
      agent_id: "1000003",
      user_id: "li",
      text: request.text,
      message: request.message,
    });
  } finally {
    await hook.close();
  }
});

Deno.test("http: a JSON answer with only a text field, and MEDIA: lines in it", async () => {
  const hook = webhook(() => Response.json({ text: "see attached\nMEDIA:/tmp/map.png" }));
  try {
    const reply = await httpBackend(request, config(hook.url), live());
    assert.equal(reply.text, "see attached");
    assert.deepEqual(reply.attachments, [{ path: "/tmp/map.png" }]);
  } finally {
    await hook.close();
  }
});

Deno.test("http: a text/plain answer is the reply as-is (trimmed)", async () => {
  const hook = webhook(() =>
    new Response("  plain answer\nline two \n", {
      headers: { "content-type": "text/plain; charset=utf-8" },
    })
  );
  try {
    assert.equal(
      (await httpBackend(request, config(hook.url), live())).text,
      "plain answer\nline two",
    );
  } finally {
    await hook.close();
  }
});

Deno.test("http: a JSON answer without reply or text is an error", async () => {
  const hook = webhook(() => Response.json({ answer: "wrong field" }));
  try {
    await assert.rejects(
      httpBackend(request, config(hook.url), live()),
      /without a "reply" or "text" string/,
    );
  } finally {
    await hook.close();
  }
});

Deno.test("http: a non-2xx answer is an error with the status, never the header secrets", async () => {
  const hook = webhook((seen) =>
    new Response(
      `upstream down (you sent ${seen.headers.get("authorization")?.slice("Bearer ".length)})`,
      { status: 502 },
    )
  );
  try {
    await assert.rejects(
      httpBackend(request, config(hook.url, { Authorization: "Bearer hook-secret" }), live()),
      (error: Error) => {
        assert.match(error.message, /answered HTTP 502: upstream down/);
        assert.doesNotMatch(error.message, /hook-secret|token=abc/);
        return true;
      },
    );
  } finally {
    await hook.close();
  }
});

Deno.test("http: an unreachable webhook is an error naming the host, not the URL's token", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await assert.rejects(
    httpBackend(request, config(`http://127.0.0.1:${port}/x?token=abc`), live()),
    (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`could not reach the agent webhook at 127.0.0.1:${port}`),
      );
      assert.doesNotMatch(error.message, /token=abc/);
      return true;
    },
  );
  await assert.rejects(httpBackend(request, config("not a url"), live()), /not a valid URL/);
});

Deno.test("http: aborting the signal stops a slow webhook call", async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const hook = webhook(async () => {
    await gate;
    return Response.json({ reply: "too late" });
  });
  try {
    const started = performance.now();
    await assert.rejects(httpBackend(request, config(hook.url), AbortSignal.timeout(100)));
    assert.ok(performance.now() - started < 1000);
  } finally {
    release();
    await hook.close();
  }
});

for (const status of [302, 307, 308]) {
  Deno.test(`http: a ${status} to another host is an error; the secret header and message never go there`, async () => {
    const { api: agent, other, close } = crossOriginRedirect(
      status,
      () => Response.json({ reply: "the other host's answer" }),
      "/collect",
    );
    try {
      await assert.rejects(
        httpBackend(
          request,
          config(`${agent.origin}/agent?token=abc`, { "X-Api-Key": "k-secret" }),
          live(),
        ),
        (error: Error) => {
          assert.match(error.message, /agent webhook \(agent\.http\.url\) failed/);
          assert.ok(error.message.includes(`${agent.origin} answered HTTP ${status}`));
          assert.ok(error.message.includes(`a redirect to ${other.origin}`));
          assert.doesNotMatch(error.message, /k-secret|token=abc|other host's answer/);
          return true;
        },
      );
      assert.deepEqual(
        agent.hits.map((hit) => ({ method: hit.method, apiKey: hit.headers.get("x-api-key") })),
        [{ method: "POST", apiKey: "k-secret" }],
      );
      assert.deepEqual(other.hits, [], "the other host got neither the message nor the header");
    } finally {
      await close();
    }
  });
}
