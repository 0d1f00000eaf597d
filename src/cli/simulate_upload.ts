/**
 * `simulate send --file`: uploads a file to WeCom's `media/upload` (the real
 * API or the simulated one of the demo) with an app's credentials, so that the
 * simulated callback carries a `MediaId` the gateway can download.
 *
 * @example Usage
 * ```ts ignore
 * import { uploadForCallback } from "./simulate_upload.ts";
 * const mediaId = await uploadForCallback({
 *   app: { corpId, corpSecret, agentId, apiBase: "http://127.0.0.1:41234" },
 *   kind: "image",
 *   file: { bytes, filename: "photo.png", contentType: "image/png" },
 * });
 * ```
 *
 * @module
 */

import type { AppConfig } from "../config/types.ts";
import type { SampleMedia } from "../simulator/media_samples.ts";
import { createWeComClient } from "../wecom/client.ts";
import type { MediaKind } from "../wecom/types.ts";

/** What {@linkcode uploadForCallback} needs. */
export interface UploadForCallback {
  app: Pick<AppConfig, "corpId" | "corpSecret" | "agentId" | "apiBase">;
  kind: MediaKind;
  file: SampleMedia;
  fetch?: typeof fetch;
}

/**
 * Fetches a token and uploads `file` as `kind`; resolves to the media id.
 * Throws `WeComApiError` with WeCom's errcode when WeCom refuses.
 */
export async function uploadForCallback(options: UploadForCallback): Promise<string> {
  // The token lives only for this command: a store in memory, gone when it ends.
  const kv = await Deno.openKv(":memory:");
  try {
    const client = createWeComClient({ kv, fetch: options.fetch, log: () => {} });
    const app: AppConfig = {
      name: "simulate",
      token: "",
      encodingAesKey: "",
      ...options.app,
    };
    const { file } = options;
    const result = await client.uploadMedia(
      app,
      options.kind,
      file.bytes,
      file.filename,
      file.contentType,
    );
    return result.mediaId;
  } finally {
    kv.close();
  }
}
