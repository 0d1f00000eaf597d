import assert from "node:assert/strict";
import { transcribe } from "../../src/media/transcribe.ts";

Deno.test("transcribe: a 307 to another host is an error; the API key and the audio never go there", async () => {
  const seen: (string | null)[] = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push(req.headers.get("authorization"));
    await req.body?.cancel();
    return Response.json({ text: "the other host's transcript" });
  });
  const otherOrigin = `http://127.0.0.1:${(other.addr as Deno.NetAddr).port}`;
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return new Response(null, { status: 307, headers: { location: `${otherOrigin}/v1/x` } });
  });
  const apiOrigin = `http://127.0.0.1:${(api.addr as Deno.NetAddr).port}`;
  try {
    await assert.rejects(
      transcribe(
        {
          baseUrl: `${apiOrigin}/v1`,
          model: "whisper-1",
          apiKey: "sk-secret",
          language: "",
          ffmpeg: "",
        },
        { bytes: new Uint8Array([1, 2, 3]), filename: "a.amr", contentType: "audio/amr" },
      ),
      (error: Error) => {
        assert.match(error.message, /transcription API .* failed: .* HTTP 307, a redirect to/);
        assert.ok(error.message.includes(otherOrigin));
        assert.ok(!error.message.includes("sk-secret"));
        return true;
      },
    );
    assert.deepEqual(seen, []);
  } finally {
    await api.shutdown();
    await other.shutdown();
  }
});
