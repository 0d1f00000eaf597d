/**
 * The callback server on the open internet: `Deno.serve` behind an in-process
 * front that bounds every connection's life.
 *
 * `Deno.serve` in Deno 2.9 keeps a connection open for as long as the client
 * wants: an idle keep-alive connection, one that sent half a request head or
 * nothing at all, one that was answered 408 or 413 (measured; upstream
 * denoland/deno#3515 and #32497 are open). Enough of them exhaust the file
 * descriptors and kill the process from inside `Deno.serve`, where nothing can
 * catch the error. So the public socket is a `Deno.listen` of our own that
 * accepts, counts and times each connection and copies its bytes to the
 * `Deno.serve` that parses HTTP, on a private Unix socket (loopback TCP on
 * Windows). The front:
 *
 * - closes a connection whose request head is not complete `headerTimeoutMs`
 *   after it opened or after its first byte of a new request (slowloris);
 * - closes a connection with no request in progress after `idleTimeoutMs`
 *   without a byte either way (idle keep-alive);
 * - closes a connection right after a `408` or `413` answer;
 * - holds at most `maxConnections`; at the cap a new connection takes the
 *   place of the least recently active one that has no request in progress
 *   (or is refused when all have one), so a flood of idle connections never
 *   locks out WeCom's next callback;
 * - counts a closed connection against the cap until its descriptors are
 *   given back, pausing accepts meanwhile, so a flood cannot spend the
 *   descriptors kept for KV and the WeCom API;
 * - survives `accept()` failing for lack of descriptors (EMFILE): it lowers
 *   the cap below what it holds, sheds the idlest connections, pauses 10 ms
 *   and carries on.
 *
 * `Deno.serve` still parses every request, so the handler, its body limits
 * and its error answers are exactly as without the front.
 *
 * @example Usage
 * ```ts ignore
 * import { serveBounded } from "./server.ts";
 * const server = await serveBounded({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   idleTimeoutMs: 60_000,
 *   headerTimeoutMs: 5_000,
 *   maxConnections: 1024,
 *   handler: () => new Response("ok"),
 * });
 * console.log(server.addr.port, server.stats());
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { log } from "../log.ts";

/** How long each connection may live in each phase, and how many there may be. */
export interface ConnectionLimits {
  /** Close a connection with no request in progress after this long without a byte, ms. */
  idleTimeoutMs: number;
  /** Close a connection whose request head is not complete this long after it began, ms. */
  headerTimeoutMs: number;
  /** Connections held at once; past it the least recently active idle one is shed. */
  maxConnections: number;
}

/** Options of {@linkcode serveBounded}. */
export interface BoundedServerOptions extends ConnectionLimits {
  hostname: string;
  port: number;
  handler: (request: Request) => Response | Promise<Response>;
  /** Answer when the handler throws (as `Deno.serve`'s `onError`). */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Called for each connection the front closes or refuses, with why. */
  onEvent?: (event: ConnectionEvent) => void;
}

/** Why the front closed or refused a connection. */
export type ConnectionEvent =
  | "header_timeout"
  | "idle_timeout"
  | "closed_after_error"
  | "shed"
  | "refused"
  | "accept_error";

/** Counters of the front since it started. */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** The cap now: `maxConnections`, or lower once accept() ran out of descriptors. */
  cap: number;
  accepted: number;
  /** Closed or refused by the front, by reason. */
  events: Record<ConnectionEvent, number>;
}

/** A running server. */
export interface BoundedServer {
  /** The public address. */
  readonly addr: Deno.NetAddr;
  stats(): ConnectionStats;
  /** Stops accepting, lets requests in progress finish, then closes every connection. */
  shutdown(): Promise<void>;
}

/** Where a connection is in its request cycle. */
type Phase = "head" | "request" | "idle" | "closing";

interface Connection {
  readonly client: Deno.Conn;
  upstream?: Deno.Conn;
  phase: Phase;
  /** When the phase began (performance.now()). */
  since: number;
  /** When a byte last went either way. */
  last: number;
  /** True when the head scan's last byte other than CR was LF (a second one ends the head). */
  sawLf: boolean;
  closed: boolean;
  /** Settles when the answers' pump has ended (the upstream side closed). */
  answered?: Promise<void>;
  /** Settles when the requests' pump has ended (its read of the client gave up its socket). */
  reading?: Promise<void>;
}

/** Time left for the rest of a 408 or 413 answer to go out before its connection is closed, ms. */
const CLOSE_AFTER_ERROR_MS = 250;
const BUFFER_BYTES = 8 * 1024;
/** The lowest cap accept() failures can bring the cap down to. */
const MIN_CAP = 8;
/** Longest pause of accepting while closed connections give back their descriptors, ms. */
const MAX_DRAIN_WAIT_MS = 200;
const CR = 13;
const LF = 10;
const DIGIT_0 = 48;

/** The status code of an answer that starts `chunk` (`HTTP/1.x NNN `), or 0. */
function statusOf(chunk: Uint8Array): number {
  if (chunk.length < 13 || chunk[0] !== 72 /* H */ || chunk[8] !== 32 || chunk[12] !== 32) return 0;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = chunk[i] - DIGIT_0;
    if (digit < 0 || digit > 9) return 0;
    status = status * 10 + digit;
  }
  return status;
}

/** True for an `accept()` failure that a pause can cure (descriptors, memory, an aborted peer). */
function isTransientAcceptError(error: unknown): boolean {
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
    return false;
  }
  return true;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/**
 * Starts `Deno.serve` for `handler` on a private socket and the bounded
 * public front on `hostname:port`; resolves once both listen.
 *
 * @example Usage
 * ```ts ignore
 * const server = await serveBounded({ hostname: "0.0.0.0", port: 8645, idleTimeoutMs: 60_000,
 *   headerTimeoutMs: 5_000, maxConnections: 1024, handler });
 * ```
 */
export async function serveBounded(options: BoundedServerOptions): Promise<BoundedServer> {
  const unix = Deno.build.os !== "windows";
  const dir = unix ? await Deno.makeTempDir({ prefix: "wecom-gateway-http-" }) : undefined;
  const innerListening = Promise.withResolvers<Deno.Addr>();
  const onListen = (addr: Deno.Addr) => innerListening.resolve(addr);
  const inner: Deno.HttpServer = dir
    ? Deno.serve(
      { transport: "unix", path: `${dir}/http.sock`, onListen, onError: options.onError },
      options.handler,
    )
    : Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen, onError: options.onError },
      options.handler,
    );
  const innerAddr = await innerListening.promise;
  const connectUpstream = (): Promise<Deno.Conn> =>
    innerAddr.transport === "unix"
      ? Deno.connect({ transport: "unix", path: innerAddr.path }) as Promise<Deno.Conn>
      : Deno.connect({ hostname: "127.0.0.1", port: (innerAddr as Deno.NetAddr).port });

  // Deno sets up its signal handling on first use and panics when no descriptor is free then
  // (measured: "panicked at ext/signals/lib.rs ... Too many open files" under a flood right after
  // start). A listener for SIGWINCH, ignored by default, sets it up now, while descriptors are free.
  const noSignal = () => {};
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGWINCH", noSignal);
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const stats: ConnectionStats = {
    open: 0,
    cap: options.maxConnections,
    accepted: 0,
    events: {
      header_timeout: 0,
      idle_timeout: 0,
      closed_after_error: 0,
      shed: 0,
      refused: 0,
      accept_error: 0,
    },
  };
  // Insertion order is recency order: a connection is moved to the end on every byte.
  const connections = new Map<Deno.Conn, Connection>();
  let stopping = false;
  /** The cap: `maxConnections`, lowered when accept() runs out of descriptors below it. */
  let cap = options.maxConnections;
  // Closed connections whose pumps have not ended yet: their descriptors are not free yet.
  let draining = 0;
  let drained = Promise.withResolvers<void>();

  const note = (event: ConnectionEvent) => {
    stats.events[event]++;
    options.onEvent?.(event);
  };

  const close = (connection: Connection, event?: ConnectionEvent) => {
    if (connection.closed) return;
    connection.closed = true;
    connections.delete(connection.client);
    stats.open = connections.size;
    if (event) note(event);
    try {
      connection.client.close();
    } catch {
      // already closed
    }
    try {
      connection.upstream?.close();
    } catch {
      // already closed
    }
    draining++;
    Promise.allSettled([connection.reading, connection.answered]).then(() => {
      draining--;
      drained.resolve();
      drained = Promise.withResolvers<void>();
    });
  };

  const touch = (connection: Connection, now: number) => {
    connection.last = now;
    if (connections.delete(connection.client)) connections.set(connection.client, connection);
  };

  /** Closes the least recently active connection with no request in progress; false if none. */
  const shedOne = (): boolean => {
    for (const connection of connections.values()) {
      if (connection.phase !== "request") {
        close(connection, "shed");
        return true;
      }
    }
    return false;
  };

  /** Upstream → client: the answer. The first bytes after a request end it. */
  const pumpAnswers = async (connection: Connection, upstream: Deno.Conn) => {
    const buffer = new Uint8Array(BUFFER_BYTES);
    try {
      for (;;) {
        const n = await upstream.read(buffer);
        if (n === null || connection.closed) break;
        const chunk = buffer.subarray(0, n);
        const now = performance.now();
        if (connection.phase === "request") {
          const status = statusOf(chunk);
          // An interim answer (100 Continue) leaves the request in progress.
          if (status >= 200 || status === 0) {
            connection.phase = status === 408 || status === 413 ? "closing" : "idle";
            connection.since = now;
          }
        }
        touch(connection, now);
        await writeAll(connection.client, chunk);
      }
    } catch {
      // either side went away
    }
    close(connection);
  };

  /** Client → upstream: requests, scanned for the end of each head. */
  const pumpRequests = async (connection: Connection) => {
    const buffer = new Uint8Array(BUFFER_BYTES);
    try {
      for (;;) {
        const n = await connection.client.read(buffer);
        if (n === null || connection.closed) break;
        const chunk = buffer.subarray(0, n);
        const now = performance.now();
        if (connection.phase === "idle") {
          connection.phase = "head";
          connection.since = now;
          connection.sawLf = false;
        }
        if (connection.phase === "head") {
          // The head ends at an empty line: CR LF CR LF, or bare LF LF as parsers also accept.
          for (let i = 0; i < n; i++) {
            const byte = chunk[i];
            if (byte === LF) {
              if (connection.sawLf) {
                connection.phase = "request";
                connection.since = now;
                break;
              }
              connection.sawLf = true;
            } else if (byte !== CR) connection.sawLf = false;
          }
        }
        touch(connection, now);
        if (!connection.upstream) {
          const upstream = await connectUpstream();
          if (connection.closed) {
            upstream.close();
            return;
          }
          connection.upstream = upstream;
          connection.answered = pumpAnswers(connection, upstream);
        }
        await writeAll(connection.upstream, chunk);
      }
      // The client finished sending: let the answer in progress, if any, come back.
      if (connection.upstream && connection.phase === "request") {
        await connection.upstream.closeWrite().catch(() => {});
        return;
      }
    } catch {
      // either side went away, or no descriptor was left for the upstream connection
    }
    close(connection);
  };

  const sweepEveryMs = Math.max(
    10,
    Math.min(250, options.headerTimeoutMs / 4, options.idleTimeoutMs / 4),
  );
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const connection of connections.values()) {
      if (connection.phase === "head" && now - connection.since > options.headerTimeoutMs) {
        close(connection, "header_timeout");
      } else if (connection.phase === "closing" && now - connection.since > CLOSE_AFTER_ERROR_MS) {
        close(connection, "closed_after_error");
      } else if (
        connection.phase !== "head" && now - connection.last > options.idleTimeoutMs
      ) {
        close(connection, "idle_timeout");
      }
    }
  }, sweepEveryMs);

  let lastAcceptWarning = -Infinity;
  /**
   * Waits, briefly, while the connections held and those still giving back their descriptors
   * fill the cap: under a flood, accepting at the rate connections are shed would spend the
   * descriptors kept for KV and the WeCom API before the closed ones are released.
   */
  const drainBelowCap = async () => {
    const began = performance.now();
    while (
      !stopping && connections.size + draining >= cap && draining > 0 &&
      performance.now() - began < MAX_DRAIN_WAIT_MS
    ) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        drained.promise,
        new Promise((resolve) => timer = setTimeout(resolve, 10)),
      ]);
      clearTimeout(timer);
    }
  };

  const accepting = (async () => {
    while (!stopping) {
      await drainBelowCap();
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch (error) {
        if (stopping || !isTransientAcceptError(error)) break;
        note("accept_error");
        // Out of descriptors below the cap: what is held now is what fits. Lower the cap under it,
        // so that from now on a newcomer takes an idle connection's place at once.
        const lowered = Math.max(MIN_CAP, Math.floor(connections.size * 0.9));
        if (lowered < cap) cap = lowered;
        while (connections.size > cap && shedOne());
        const now = performance.now();
        if (now - lastAcceptWarning > 10_000) {
          lastAcceptWarning = now;
          log.warn(
            `HTTP accept failed for lack of descriptors: shedding idle connections, cap now ${cap}`,
            { error: (error as Error).message, open: connections.size },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      if (stopping) {
        client.close();
        break;
      }
      stats.accepted++;
      // Answers go out as they come from Deno.serve, often head and body apart: no Nagle delay.
      try {
        (client as Deno.TcpConn).setNoDelay(true);
      } catch {
        // not a TCP socket, or already closed
      }
      if (connections.size >= cap && !shedOne()) {
        note("refused");
        try {
          client.close();
        } catch {
          // already closed
        }
        continue;
      }
      const now = performance.now();
      const connection: Connection = {
        client,
        phase: "head",
        since: now,
        last: now,
        sawLf: false,
        closed: false,
      };
      connections.set(client, connection);
      stats.open = connections.size;
      connection.reading = pumpRequests(connection);
    }
  })();

  return {
    addr,
    stats: () => ({ ...stats, open: connections.size, cap, events: { ...stats.events } }),
    async shutdown() {
      if (stopping) return;
      stopping = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      for (const connection of [...connections.values()]) {
        if (connection.phase !== "request") close(connection);
      }
      await inner.shutdown();
      // Deno.serve has written the last answers: let them reach their clients, briefly.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...connections.values()].map((connection) => connection.answered)),
        new Promise((resolve) => timer = setTimeout(resolve, 2000)),
      ]);
      clearTimeout(timer);
      for (const connection of [...connections.values()]) close(connection);
      clearInterval(sweeper);
      if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGWINCH", noSignal);
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The soft limit of open files of this process, from `/proc/self/limits`
 * (Linux); undefined where it cannot be read.
 *
 * @example Usage
 * ```ts ignore
 * console.log(await openFilesLimit()); // e.g. 1024
 * ```
 */
export async function openFilesLimit(): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile("/proc/self/limits");
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!match || match[1] === "unlimited") return undefined;
    return Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Descriptors kept for everything but client connections: KV, WeCom API, agents, media. */
export const RESERVED_DESCRIPTORS = 128;
/** Descriptors one client connection costs: its socket and both ends of the private one. */
export const DESCRIPTORS_PER_CONNECTION = 3;

/**
 * The connection cap that fits `limit` open files with
 * {@linkcode RESERVED_DESCRIPTORS} kept free: at most `configured`, at least 8.
 *
 * @example Usage
 * ```ts
 * import { connectionCap } from "./server.ts";
 * console.assert(connectionCap(1024, 1024) === 298);
 * console.assert(connectionCap(1024, undefined) === 1024);
 * ```
 */
export function connectionCap(configured: number, limit: number | undefined): number {
  if (limit === undefined) return configured;
  const fits = Math.floor((limit - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_CONNECTION);
  return Math.max(8, Math.min(configured, fits));
}

/** What {@linkcode startCallbackServer} needs. */
export interface CallbackServerOptions {
  hostname: string;
  port: number;
  /** The bounds; absent or `front: false` serves with `Deno.serve` alone. */
  limits?: ConnectionLimits & { front: boolean };
  handler: (request: Request) => Response | Promise<Response>;
  onError?: (error: unknown) => Response | Promise<Response>;
  onEvent?: (event: ConnectionEvent) => void;
}

/** The running callback server: its address and a graceful stop. */
export interface CallbackServer {
  readonly addr: Deno.NetAddr;
  shutdown(): Promise<void>;
  /** Counters of the front (absent without it). */
  stats?: () => ConnectionStats;
}

/**
 * Starts the gateway's HTTP server: the bounded front of
 * {@linkcode serveBounded} with its connection cap lowered to fit the
 * open-files limit, or `Deno.serve` alone when `limits.front` is false.
 *
 * @example Usage
 * ```ts ignore
 * const server = await startCallbackServer({ hostname: "0.0.0.0", port: 8645, limits, handler });
 * await server.shutdown();
 * ```
 */
export async function startCallbackServer(
  options: CallbackServerOptions,
): Promise<CallbackServer> {
  const limits = options.limits;
  if (!limits?.front) {
    const listening = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
      onError: options.onError,
    }, options.handler);
    return { addr: await listening.promise, shutdown: () => server.shutdown() };
  }
  const limit = await openFilesLimit();
  const maxConnections = connectionCap(limits.maxConnections, limit);
  if (maxConnections < limits.maxConnections) {
    log.warn(
      `HTTP connections capped at ${maxConnections}, below gateway.http.max_connections ` +
        `(${limits.maxConnections}), to fit the open-files limit of ${limit} with ` +
        `${RESERVED_DESCRIPTORS} kept for KV and the WeCom API; raise LimitNOFILE (ulimit -n) for more`,
    );
  }
  return await serveBounded({ ...options, ...limits, maxConnections });
}
