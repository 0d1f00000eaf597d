/**
 * Service-manager files that run the gateway: a systemd unit (Linux) and a
 * launchd property list (macOS). Pure text rendering; `./install.ts` decides
 * what goes in and where the file is written.
 *
 * Both stop the gateway with SIGTERM and wait long enough for its graceful
 * shutdown (finish in-flight acknowledgements, release running jobs, let sends
 * in flight end) before killing it, and restart it when it fails.
 *
 * @example Usage
 * ```ts
 * import { systemdUnit } from "./service_files.ts";
 * const unit = systemdUnit({
 *   argv: ["/usr/local/bin/wecom-gateway", "serve", "--config", "/srv/gw/config.yaml"],
 *   workingDirectory: "/srv/gw",
 * }, { userUnit: false });
 * console.assert(unit.includes("KillSignal=SIGTERM"));
 * ```
 *
 * @module
 */

/**
 * Seconds the service manager waits after SIGTERM before killing the gateway.
 * The graceful stop takes at most about 25 s (10 s for running jobs to be
 * released, then up to 10 s for a WeCom send in flight, plus the HTTP server's
 * drain), so 45 s leaves room.
 */
export const STOP_TIMEOUT_SECONDS = 45;

/** What the service runs. */
export interface ServiceSpec {
  /** Program and arguments, absolute paths. */
  argv: string[];
  /** Where `.env`, `config.yaml` and `./data/` are. */
  workingDirectory: string;
  /** `.env` to load into the environment (systemd only; the gateway also reads it itself). */
  environmentFile?: string;
  /** Run as this user (system units only). */
  user?: string;
  /** Human description. */
  description?: string;
}

/** Escapes systemd specifiers (`%`) in a setting value. */
function systemdValue(value: string): string {
  return value.replaceAll("%", "%%");
}

/** Quotes one ExecStart argument when needed (spaces, quotes, backslashes, `$`, `%`). */
function systemdArg(arg: string): string {
  let escaped = arg.replaceAll("%", "%%").replaceAll("$", "$$");
  if (escaped === "" || /[\s"'\\;]/.test(escaped)) {
    escaped = `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  }
  return escaped;
}

/**
 * Renders a systemd unit; `userUnit` selects `WantedBy=default.target` (a user
 * unit) instead of `multi-user.target` and drops `User=`.
 *
 * @example Usage
 * ```ts
 * import { systemdUnit } from "./service_files.ts";
 * const unit = systemdUnit({ argv: ["/opt/gw/wecom-gateway", "serve"], workingDirectory: "/opt/gw" }, { userUnit: true });
 * console.assert(unit.includes("WantedBy=default.target"));
 * ```
 */
export function systemdUnit(spec: ServiceSpec, options: { userUnit: boolean }): string {
  const lines = [
    "# Written by 'wecom-gateway install'. Edit and run 'systemctl daemon-reload' to apply.",
    "[Unit]",
    `Description=${
      spec.description ?? "wecom-gateway: WeCom (企业微信) callback gateway for an AI agent"
    }`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
  ];
  if (!options.userUnit && spec.user) lines.push(`User=${systemdValue(spec.user)}`);
  lines.push(`WorkingDirectory=${systemdValue(spec.workingDirectory)}`);
  if (spec.environmentFile) lines.push(`EnvironmentFile=${systemdValue(spec.environmentFile)}`);
  lines.push(
    `ExecStart=${spec.argv.map(systemdArg).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=5",
    "# Open files: the gateway caps its HTTP connections to fit this limit, keeping 128",
    "# descriptors for KV, the WeCom API and agents (3 per connection; see README).",
    "LimitNOFILE=65536",
    "# Graceful stop: SIGTERM to the gateway only; it finishes acknowledgements and releases",
    "# running jobs (agent subprocesses included) before it exits.",
    "KillSignal=SIGTERM",
    "KillMode=mixed",
    `TimeoutStopSec=${STOP_TIMEOUT_SECONDS}`,
    "",
    "[Install]",
    `WantedBy=${options.userUnit ? "default.target" : "multi-user.target"}`,
    "",
  );
  return lines.join("\n");
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/**
 * Renders a launchd agent property list (`~/Library/LaunchAgents`): started at
 * login, restarted when it exits with an error, stdout and stderr to `logPath`.
 *
 * @example Usage
 * ```ts
 * import { launchdPlist } from "./service_files.ts";
 * const plist = launchdPlist(
 *   { argv: ["/opt/gw/wecom-gateway", "serve"], workingDirectory: "/opt/gw" },
 *   { label: "local.wecom-gateway", logPath: "/Users/me/Library/Logs/wecom-gateway.log" },
 * );
 * console.assert(plist.includes("<key>ProgramArguments</key>"));
 * ```
 */
export function launchdPlist(
  spec: ServiceSpec,
  options: { label: string; logPath: string },
): string {
  const args = spec.argv.map((arg) => `    <string>${xml(arg)}</string>`);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    "<!-- Written by 'wecom-gateway install'. The gateway reads .env from WorkingDirectory. -->",
    '<plist version="1.0">',
    "<dict>",
    "  <key>Label</key>",
    `  <string>${xml(options.label)}</string>`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...args,
    "  </array>",
    "  <key>WorkingDirectory</key>",
    `  <string>${xml(spec.workingDirectory)}</string>`,
    "  <key>RunAtLoad</key>",
    "  <true/>",
    "  <!-- Restart when it exits with an error (not after a clean stop). -->",
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "  <key>ThrottleInterval</key>",
    "  <integer>5</integer>",
    "  <!-- launchd stops with SIGTERM and waits this long for the graceful shutdown. -->",
    "  <key>ExitTimeOut</key>",
    `  <integer>${STOP_TIMEOUT_SECONDS}</integer>`,
    "  <key>StandardOutPath</key>",
    `  <string>${xml(options.logPath)}</string>`,
    "  <key>StandardErrorPath</key>",
    `  <string>${xml(options.logPath)}</string>`,
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}
