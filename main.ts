/**
 * wecom-gateway: connects an AI agent to WeCom (企业微信) as a self-built app.
 *
 * Run `deno task start` (serve), or `deno run … main.ts --help` for the commands.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
