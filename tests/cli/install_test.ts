import assert from "node:assert/strict";
import { captureContext } from "../../src/cli/context.ts";
import { createInstallCommand } from "../../src/cli/install.ts";
import { dotenv, runCli, workdir } from "./run_cli.ts";

const APP_ENV = {
  WECOM_CALLBACK_CORP_ID: "wwinstall00000001",
  WECOM_CALLBACK_CORP_SECRET: "install-secret-0123456789abcdefghijklmnopq",
  WECOM_CALLBACK_AGENT_ID: "1000002",
  WECOM_CALLBACK_TOKEN: "InstallToken123",
  WECOM_CALLBACK_ENCODING_AES_KEY: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};
const CONFIG_YAML = "platforms:\n  wecom_callback:\n    extra:\n      port: 8645\n";

/** A service directory with .env, config.yaml and a fake binary, and a separate HOME. */
async function setup(
  files: Record<string, string> = { ".env": dotenv(APP_ENV), "config.yaml": CONFIG_YAML },
) {
  const dir = await workdir(files);
  const home = await Deno.makeTempDir({ prefix: "wecom-home-" });
  const binary = `${dir}/wecom-gateway`;
  await Deno.writeTextFile(binary, "#!/bin/sh\n");
  return {
    dir,
    home,
    binary,
    cleanup: async () => {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(home, { recursive: true });
    },
  };
}

async function install(
  args: string[],
  options: {
    cwd: string;
    env: Record<string, string>;
    os?: typeof Deno.build.os;
    execPath?: string;
  },
) {
  const { context, stdout, stderr } = captureContext({
    cwd: options.cwd,
    env: options.env,
    os: options.os ?? "linux",
  });
  const code = await createInstallCommand({
    context,
    execPath: options.execPath ?? "/opt/gw/wecom-gateway",
  }).run(args);
  return { code, stdout: stdout(), stderr: stderr() };
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}

Deno.test("install --help (subprocess) describes both service managers", async () => {
  const result = await runCli(["install", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /systemd/);
  assert.match(result.stdout, /launchd/);
  assert.match(result.stdout, /--dry-run/);
});

Deno.test({
  name:
    "install --user --dry-run (subprocess) prints a user unit for the binary and writes nothing",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const s = await setup();
    try {
      const result = await runCli(
        ["install", "--binary", "wecom-gateway", "--user", "--dry-run"],
        { cwd: s.dir, env: { HOME: s.home, USER: "gw" } },
      );
      assert.equal(result.code, 0, result.stderr);
      const unit = result.stdout;
      assert.match(unit, /^\[Unit\]$/m);
      assert.match(unit, /^After=network-online\.target$/m);
      assert.match(
        unit,
        new RegExp(`^ExecStart=${s.dir}/wecom-gateway serve --config ${s.dir}/config\\.yaml$`, "m"),
      );
      assert.match(unit, new RegExp(`^WorkingDirectory=${s.dir}$`, "m"));
      assert.match(unit, new RegExp(`^EnvironmentFile=${s.dir}/\\.env$`, "m"));
      assert.match(unit, /^Restart=on-failure$/m);
      assert.match(unit, /^KillSignal=SIGTERM$/m);
      assert.match(unit, /^LimitNOFILE=65536$/m);
      assert.match(unit, /^KillMode=mixed$/m);
      assert.match(unit, /^TimeoutStopSec=45$/m);
      assert.match(unit, /^WantedBy=default\.target$/m);
      assert.ok(!/^User=/m.test(unit), "a user unit has no User=");
      const target = `${s.home}/.config/systemd/user/wecom-gateway.service`;
      assert.match(unit, new RegExp(`\\(dry run: this would be written to ${target}\\)`));
      assert.match(unit, /systemctl --user daemon-reload/);
      assert.match(unit, /systemctl --user enable --now wecom-gateway/);
      assert.match(unit, /loginctl enable-linger gw/);
      assert.equal(await exists(target), false);
      assert.ok(!unit.includes(APP_ENV.WECOM_CALLBACK_CORP_SECRET));
      assert.equal(result.stderr, "", "a valid configuration gives no warning");
    } finally {
      await s.cleanup();
    }
  },
});

Deno.test("install --user writes the unit under HOME and replaces it on a second run", async () => {
  const s = await setup();
  try {
    const env = { HOME: s.home, USER: "gw" };
    const first = await install(["--binary", s.binary, "--user"], { cwd: s.dir, env });
    assert.equal(first.code, 0, first.stderr);
    const path = `${s.home}/.config/systemd/user/wecom-gateway.service`;
    assert.match(first.stdout, new RegExp(`^Wrote ${path}$`, "m"));
    const unit = await Deno.readTextFile(path);
    assert.match(
      unit,
      new RegExp(`^ExecStart=${s.binary} serve --config ${s.dir}/config\\.yaml$`, "m"),
    );
    const second = await install(["--binary", s.binary, "--user"], {
      cwd: s.dir,
      env: { ...env, XDG_CONFIG_HOME: `${s.home}/xdg` },
    });
    assert.match(
      second.stdout,
      new RegExp(`^Wrote ${s.home}/xdg/systemd/user/wecom-gateway.service$`, "m"),
    );
    const third = await install(["--binary", s.binary, "--user"], { cwd: s.dir, env });
    assert.match(third.stdout, new RegExp(`^Replaced ${path}$`, "m"));
  } finally {
    await s.cleanup();
  }
});

Deno.test("install --dry-run (system unit) runs as the invoking user and says to use sudo", async () => {
  const s = await setup();
  try {
    const result = await install(["--dry-run"], {
      cwd: s.dir,
      env: { HOME: s.home, USER: "root", SUDO_USER: "alice" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^User=alice$/m);
    assert.match(result.stdout, /^WantedBy=multi-user\.target$/m);
    assert.match(result.stdout, /^ExecStart=\/opt\/gw\/wecom-gateway serve --config /m);
    assert.match(result.stdout, /written to \/etc\/systemd\/system\/wecom-gateway\.service\)/);
    assert.match(result.stdout, /sudo systemctl enable --now wecom-gateway/);
    assert.match(result.stdout, /journalctl -u wecom-gateway -f/);

    const asRoot = await install(["--dry-run"], {
      cwd: s.dir,
      env: { HOME: s.home, USER: "root" },
    });
    assert.ok(!/^User=/m.test(asRoot.stdout));
    assert.match(asRoot.stderr, /would run the gateway as root/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("install on macOS writes a launchd agent with a graceful stop and restart on failure", async () => {
  const s = await setup();
  try {
    const result = await install(["--binary", s.binary], {
      cwd: s.dir,
      env: { HOME: s.home },
      os: "darwin",
    });
    assert.equal(result.code, 0, result.stderr);
    const path = `${s.home}/Library/LaunchAgents/local.wecom-gateway.plist`;
    const plist = await Deno.readTextFile(path);
    assert.match(plist, /<key>Label<\/key>\n\s*<string>local\.wecom-gateway<\/string>/);
    assert.match(
      plist,
      new RegExp(
        `<array>\\n\\s*<string>${s.binary}</string>\\n\\s*<string>serve</string>\\n\\s*` +
          `<string>--config</string>\\n\\s*<string>${s.dir}/config\\.yaml</string>\\n\\s*</array>`,
      ),
    );
    assert.match(plist, new RegExp(`<key>WorkingDirectory</key>\\n\\s*<string>${s.dir}</string>`));
    assert.match(plist, /<key>SuccessfulExit<\/key>\n\s*<false\/>/);
    assert.match(plist, /<key>ExitTimeOut<\/key>\n\s*<integer>45<\/integer>/);
    assert.match(plist, new RegExp(`<string>${s.home}/Library/Logs/wecom-gateway\\.log</string>`));
    assert.match(result.stdout, new RegExp(`launchctl load -w ${path}`));
  } finally {
    await s.cleanup();
  }
});

Deno.test("install from source (deno) runs main.ts with the service's permissions and says to compile", async () => {
  const s = await setup();
  try {
    const result = await install(["--user", "--dry-run"], {
      cwd: s.dir,
      env: { HOME: s.home },
      execPath: "/usr/local/bin/deno",
    });
    assert.equal(result.code, 0);
    assert.match(
      result.stdout,
      /^ExecStart=\/usr\/local\/bin\/deno run --v8-flags=--max-semi-space-size=1 --unstable-kv --allow-net --allow-read --allow-write --allow-env --allow-run --allow-sys \S+\/main\.ts serve --config /m,
    );
    assert.match(result.stderr, /deno task compile/);
    // The service runs with the V8 flags of `deno task start` (the ones the benchmarks measure).
    const tasks = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
      .tasks as Record<string, string>;
    const startFlags = /--v8-flags=\S+/.exec(tasks.start)?.[0];
    assert.ok(startFlags, "deno task start sets --v8-flags");
    assert.ok(result.stdout.includes(` ${startFlags} `), `ExecStart lacks ${startFlags}`);
    for (const task of ["compile", "dev", "demo", "cli"]) {
      assert.ok(tasks[task].includes(startFlags), `deno task ${task} lacks ${startFlags}`);
    }
  } finally {
    await s.cleanup();
  }
});

Deno.test("install from a deno that npx unpacked into its cache refuses, naming the fix, and writes nothing", async () => {
  const s = await setup();
  try {
    const npxDeno = `${s.home}/.npm/_npx/7a40be787520bede/node_modules/deno/deno`;
    const result = await install(["--user"], {
      cwd: s.dir,
      env: { HOME: s.home },
      execPath: npxDeno,
    });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /Cannot install the service as this deno runs from npx's cache/);
    assert.match(result.stderr, /npm install -g deno@[\d.]+/);
    assert.match(result.stderr, /--binary/);
    assert.equal(await exists(`${s.home}/.config/systemd/user/wecom-gateway.service`), false);
    // The same path outside npx's cache is a deno that stays: installed (positive control).
    const stable = await install(["--user"], {
      cwd: s.dir,
      env: { HOME: s.home },
      execPath: `${s.home}/.npm-global/bin/deno`,
    });
    assert.equal(stable.code, 0, stable.stderr);
    assert.equal(await exists(`${s.home}/.config/systemd/user/wecom-gateway.service`), true);
  } finally {
    await s.cleanup();
  }
});

Deno.test("install quotes paths with spaces and escapes % in the unit", async () => {
  const s = await setup();
  try {
    const spaced = `${s.dir}/my gateway 100%`;
    await Deno.writeTextFile(spaced, "");
    const result = await install(["--binary", spaced, "--user", "--dry-run"], {
      cwd: s.dir,
      env: { HOME: s.home },
    });
    assert.equal(result.code, 0);
    assert.match(result.stdout, new RegExp(`^ExecStart="${s.dir}/my gateway 100%%" serve`, "m"));
  } finally {
    await s.cleanup();
  }
});

Deno.test("install warns when the service would not see variables set only in this shell", async () => {
  const s = await setup({});
  try {
    const result = await install(["--binary", s.binary, "--user", "--dry-run"], {
      cwd: s.dir,
      env: { HOME: s.home, ...APP_ENV },
    });
    assert.equal(result.code, 0);
    assert.ok(!/^EnvironmentFile=/m.test(result.stdout), "no .env, no EnvironmentFile");
    assert.match(result.stdout, /^ExecStart=\S+ serve$/m);
    assert.match(result.stderr, /the service would not start yet/);
    assert.match(result.stderr, /WECOM_CALLBACK_CORP_SECRET, WECOM_CALLBACK_ENCODING_AES_KEY/);
    assert.match(result.stderr, new RegExp(`Put them in ${s.dir}/\\.env`));
    assert.ok(!result.stderr.includes(APP_ENV.WECOM_CALLBACK_CORP_SECRET));
  } finally {
    await s.cleanup();
  }
});

Deno.test("install refuses what it cannot do with exit 2 and says what to do", async () => {
  const s = await setup();
  try {
    const env = { HOME: s.home };
    const noBinary = await install(["--binary", "dist/wecom-gateway", "--user"], {
      cwd: s.dir,
      env,
    });
    assert.equal(noBinary.code, 2);
    assert.match(
      noBinary.stderr,
      /no file at .*dist\/wecom-gateway for --binary: build the binary first \('deno task compile'/,
    );
    const noConfig = await install(["--config", "other.yaml", "--user"], { cwd: s.dir, env });
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /There is no config file at .*other\.yaml/);
    const windows = await install(["--dry-run"], { cwd: s.dir, env, os: "windows" });
    assert.equal(windows.code, 2);
    assert.match(windows.stderr, /not a windows service/);
    const noHome = await install(["--user", "--dry-run"], { cwd: s.dir, env: {} });
    assert.equal(noHome.code, 2);
    assert.match(noHome.stderr, /HOME is not set/);
    const unknown = await install(["--system"], { cwd: s.dir, env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /'install' has no option '?--system/);
    await assert.rejects(Deno.stat(`${s.home}/.config`));
  } finally {
    await s.cleanup();
  }
});
