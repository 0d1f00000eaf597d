import assert from "node:assert/strict";
import { setLogSink } from "../../src/log.ts";
import { startOperatorWorld } from "../operator/operator_world.ts";
import { waitFor } from "../lib/wait.ts";

setLogSink({ format: "json", level: "error", write: () => {} });

Deno.test("GET /metrics reports callbacks, latency, jobs, sends and token fetches in Prometheus text", async () => {
  const w = await startOperatorWorld();
  try {
    // On the operator listener only: the public callback listener answers 404.
    const publicMetrics = await fetch(`http://127.0.0.1:${w.gateway.address!.port}/metrics`);
    assert.equal(publicMetrics.status, 404);
    await publicMetrics.body?.cancel();
    const base = w.operatorBase;
    const sealed = await w.sealText("u", "hi", "1");
    for (let i = 0; i < 2; i++) await w.postSealed(sealed);
    await w.postSealed({ query: sealed.query, body: "nope" });
    await waitFor(() => w.delivered("u").length > 0, "the reply", 5000);
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.ok(response.headers.get("content-type")!.startsWith("text/plain"));
    const text = await response.text();
    assert.ok(
      text.includes('wecom_callbacks_total{method="POST",outcome="recorded",status="200"} 1'),
      text,
    );
    assert.ok(
      text.includes('wecom_callbacks_total{method="POST",outcome="duplicate",status="200"} 1'),
    );
    assert.ok(
      text.includes('wecom_callbacks_total{method="POST",outcome="bad_envelope",status="400"} 1'),
    );
    assert.ok(/wecom_callback_ack_seconds_count 3/.test(text));
    assert.ok(/wecom_callback_ack_seconds_bucket\{le="\+Inf"\} 3/.test(text));
    // Jobs in the states whose sets stay small; finished ones are counted by `jobs stats`.
    let jobs = "";
    await waitFor(async () => {
      jobs = await (await fetch(`${base}/metrics`)).text();
      return jobs.includes('wecom_jobs{state="running"} 0');
    }, () => `no running jobs in /metrics:\n${jobs}`);
    assert.ok(jobs.includes('wecom_jobs{state="queued"} 0'), jobs);
    assert.ok(jobs.includes('wecom_jobs{state="running"} 0'), jobs);
    assert.ok(text.includes('wecom_jobs{state="dead"} 0'), text);
    assert.ok(!text.includes('wecom_jobs{state="done"}'), text);
    assert.ok(text.includes('wecom_sends_total{api="send",errcode="0"} 1'));
    assert.ok(text.includes("wecom_token_fetches_total 1"));
    assert.ok(text.includes("wecom_dead_letters 0"));
    assert.ok(/wecom_agent_run_seconds_count 1/.test(text));
    // The KV committer: its lanes (the recorded callback in one, the job and its reply in the
    // other) and its busy time, the measure of whether the store bounds the gateway.
    const sample = (name: string) => Number(jobs.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
    assert.ok(sample('wecom_kv_commit_operations_total\\{lane="intake"\\}') >= 1, jobs);
    assert.ok(sample('wecom_kv_commit_operations_total\\{lane="pipeline"\\}') >= 3, jobs);
    assert.ok(sample("wecom_kv_commits_total") >= 2, jobs);
    assert.ok(sample("wecom_kv_commit_busy_seconds_total") > 0, jobs);
    // The priority gate of role all: counted, never negative (its behaviour: tests/priority_gate_test.ts).
    assert.ok(
      sample("wecom_pipeline_waits_total") >= sample("wecom_pipeline_trickled_total"),
      jobs,
    );
    assert.ok(sample("wecom_pipeline_trickled_total") >= 0, jobs);
    // Every sample line is "name{labels} number".
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      assert.ok(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/.test(line), line);
    }
  } finally {
    await w.close();
  }
});
