/**
 * The world of the media end-to-end tests: the shared in-process world
 * (`tests/fakes/world.ts`: a simulated WeCom API and a gateway against it,
 * agent and config overrides as the test needs) with a temporary attachment
 * store and upload root.
 *
 * @module
 */

import type { GatewayConfig } from "../../src/config/types.ts";
import type { FakeWeComOptions } from "../../src/simulator/wecom_api.ts";
import { startWorld, type World } from "../fakes/world.ts";

/** A started world. */
export interface MediaWorld extends World {
  /** Temporary folder: `store` (attachment store) and `out` (an upload root) are inside. */
  tmp: string;
  store: string;
  out: string;
}

/** Options of {@linkcode mediaWorld}. */
export interface MediaWorldOptions {
  /** Changes to the loaded config (after the store and upload root are set). */
  configure?: (config: GatewayConfig, paths: { store: string; out: string }) => void;
  api?: Omit<FakeWeComOptions, "apps">;
}

/** Starts a world; `close()` stops everything and removes the temporary folder. */
export async function mediaWorld(options: MediaWorldOptions = {}): Promise<MediaWorld> {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "wecom-media-e2e-" }));
  const store = `${tmp}/store`;
  const out = `${tmp}/out`;
  await Deno.mkdir(out, { recursive: true });
  const world = await startWorld({
    api: options.api,
    configure: (config) => {
      config.media = { ...config.media, dir: store, uploadRoots: [out] };
      options.configure?.(config, { store, out });
    },
  });
  return {
    ...world,
    tmp,
    store,
    out,
    async close() {
      await world.close();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits `ms` (to show that something does not happen). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
