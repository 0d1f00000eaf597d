import assert from "node:assert/strict";
import { transcribe } from "../../src/media/transcribe.ts";
import { crossOriginRedirect } from "../fakes/redirect.ts";

Deno.test("transcribe: a 307 to another host is an error; the API key and the audio never go there", async () => {
  const { api, other, close } = crossOriginRedirect(
    307,
    () => Response.json({ text: "the other host's transcript" }),
    "/v1/x",
  );
  try {
    await assert.rejects(
      transcribe(
        {
          baseUrl: `${api.origin}/v1`,
          model: "whisper-1",
          apiKey: "sk-secret",
          language: "",
          ffmpeg: "",
        },
        { bytes: new Uint8Array([1, 2, 3]), filename: "a.amr", contentType: "audio/amr" },
      ),
      (error: Error) => {
        assert.match(error.message, /transcription API .* failed: .* HTTP 307, a redirect to/);
        assert.ok(error.message.includes(other.origin));
        assert.ok(!error.message.includes("sk-secret"));
        return true;
      },
    );
    assert.deepEqual(other.hits, []);
  } finally {
    await close();
  }
});
