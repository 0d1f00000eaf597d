/**
 * The ceiling for the load generator: a bare `Deno.serve` that reads the
 * request body and answers `200` with an empty body, nothing else.
 *
 * Run as a subprocess by `bench/load.ts`. Listens on 127.0.0.1 and the port in
 * `BARE_PORT` (default 0, any free port) and prints `listening <port>` once it
 * accepts connections. SIGTERM stops it gracefully.
 *
 * Run: `deno run --allow-net --allow-env bench/lib/bare_server.ts`
 *
 * @module
 */

const port = Number(Deno.env.get("BARE_PORT") ?? "0");
const server = Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, async (request) => {
  // Read the body as the gateway must, so the ceiling includes receiving it.
  await request.arrayBuffer();
  return new Response(null, { status: 200 });
});
Deno.addSignalListener("SIGTERM", () => server.shutdown());
await server.finished;
