import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { cliConfigPath, readCliConfig, resolveCliConfig, writeCliConfig } from "./cli-config.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "etherplane-cli-config-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fileSettings = { controller: "http://file.example:7380", token: "ept_file" };

async function configFile(name: string, content: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, content);
  return file;
}

test("config path: ETHERPLANE_CONFIG, else an absolute XDG_CONFIG_HOME, else ~/.config", () => {
  assert.equal(cliConfigPath({ ETHERPLANE_CONFIG: "/x/c.json" }, "/home/u"), "/x/c.json");
  assert.equal(
    cliConfigPath({ XDG_CONFIG_HOME: "/xdg" }, "/home/u"),
    "/xdg/etherplane/config.json",
  );
  assert.equal(
    cliConfigPath({ XDG_CONFIG_HOME: "relative" }, "/home/u"),
    "/home/u/.config/etherplane/config.json",
  );
  assert.equal(cliConfigPath({}, "/home/u"), "/home/u/.config/etherplane/config.json");
});

test("precedence: flags over environment over file, setting by setting", async () => {
  const file = await configFile("precedence.json", JSON.stringify(fileSettings));
  const env = {
    ETHERPLANE_CONFIG: file,
    ETHERPLANE_CONTROLLER: "http://env.example:7380",
    ETHERPLANE_TOKEN: "ept_env",
  };
  assert.deepEqual(await resolveCliConfig({ env: { ETHERPLANE_CONFIG: file } }), fileSettings);
  assert.deepEqual(await resolveCliConfig({ env }), {
    controller: "http://env.example:7380",
    token: "ept_env",
  });
  assert.deepEqual(
    await resolveCliConfig({ env, flags: { controller: "http://flag.example:7380/" } }),
    { controller: "http://flag.example:7380", token: "ept_env" },
  );
  assert.deepEqual(
    await resolveCliConfig({ env: { ETHERPLANE_CONFIG: file }, flags: { token: "ept_flag" } }),
    { controller: fileSettings.controller, token: "ept_flag" },
  );
  // An empty variable counts as unset.
  assert.deepEqual(
    await resolveCliConfig({ env: { ETHERPLANE_CONFIG: file, ETHERPLANE_TOKEN: "" } }),
    fileSettings,
  );
});

test("the file is not read when flags and environment give both settings", async () => {
  const file = await configFile("unread.json", "{ not json");
  assert.deepEqual(
    await resolveCliConfig({
      env: { ETHERPLANE_CONFIG: file, ETHERPLANE_TOKEN: "ept_env" },
      flags: { controller: "http://flag.example" },
    }),
    { controller: "http://flag.example", token: "ept_env" },
  );
});

test("writeCliConfig: creates the folder, mode 0600, atomically replaces, reads back", async () => {
  const file = join(dir, "new", "etherplane", "config.json");
  await writeCliConfig(file, { controller: "http://127.0.0.1:7380/", token: "ept_one" });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, "new", "etherplane"))).mode & 0o777, 0o700);
  assert.deepEqual(await readCliConfig(file), {
    controller: "http://127.0.0.1:7380",
    token: "ept_one",
  });
  await writeCliConfig(file, { controller: "http://127.0.0.1:7380", token: "ept_two" });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await readFile(file, "utf8")), {
    controller: "http://127.0.0.1:7380",
    token: "ept_two",
  });
  assert.deepEqual(await readdir(join(dir, "new", "etherplane")), ["config.json"]);
});

test("a config file with bad JSON names the file and does not quote it", async () => {
  const file = await configFile("bad.json", '{"controller": "http://x", "token": "ept_secret",}');
  await assert.rejects(resolveCliConfig({ env: { ETHERPLANE_CONFIG: file } }), (error) => {
    assert.ok(isEtherplaneError(error, "INVALID_CONFIG"));
    assert.ok(error.message.includes(file), error.message);
    assert.ok(error.message.includes("not valid JSON"), error.message);
    assert.ok(!error.message.includes("ept_secret"), error.message);
    assert.equal(error.cause, undefined);
    return true;
  });
});

test("a config file with wrong values names the file and the key", async () => {
  const notString = await configFile("number.json", '{"controller": 7380}');
  await assert.rejects(
    readCliConfig(notString),
    (error) =>
      isEtherplaneError(error, "INVALID_CONFIG") &&
      error.message === `${notString}: "controller" must be a string`,
  );
  const badUrl = await configFile("url.json", '{"controller": "ftp://x", "token": "ept_x"}');
  await assert.rejects(
    readCliConfig(badUrl),
    (error) =>
      isEtherplaneError(error, "INVALID_CONFIG") &&
      error.message.startsWith(`${badUrl}: "controller": "ftp://x" is not an http or https URL`),
  );
  const badToken = await configFile("token.json", '{"token": "ept secret"}');
  await assert.rejects(readCliConfig(badToken), (error) => {
    assert.ok(isEtherplaneError(error, "INVALID_CONFIG"));
    assert.ok(error.message.includes(`${badToken}: "token"`), error.message);
    assert.ok(!error.message.includes("ept secret"), error.message);
    return true;
  });
  const array = await configFile("array.json", "[]");
  await assert.rejects(readCliConfig(array), /must hold a JSON object/);
});

test("missing settings say how to log in or start a controller", async () => {
  const none = join(dir, "missing.json");
  await assert.rejects(resolveCliConfig({ env: { ETHERPLANE_CONFIG: none } }), (error) => {
    assert.ok(isEtherplaneError(error, "UNAUTHENTICATED"));
    assert.equal(
      error.message,
      `not logged in: no token from --token-file, --token -, ETHERPLANE_TOKEN or ${none}; log in with ` +
        "`etherplane login --controller URL --token-file FILE`, or run `etherplane up` to start a " +
        "controller on this machine",
    );
    return true;
  });
  await assert.rejects(
    resolveCliConfig({ env: { ETHERPLANE_CONFIG: none, ETHERPLANE_CONTROLLER: "http://c:1" } }),
    (error) =>
      isEtherplaneError(error, "UNAUTHENTICATED") &&
      error.message.startsWith("not logged in to http://c:1: no token"),
  );
  await assert.rejects(
    resolveCliConfig({ env: { ETHERPLANE_CONFIG: none, ETHERPLANE_TOKEN: "t" } }),
    (error) => {
      assert.ok(isEtherplaneError(error, "INVALID_ARGUMENT"));
      assert.ok(error.message.startsWith("no controller to talk to: none in --controller"));
      assert.ok(error.message.includes("`etherplane login --controller URL --token-file FILE`"));
      assert.ok(error.message.includes("`etherplane up`"));
      return true;
    },
  );
});

test("bad flags and variables name their source and never repeat a token", async () => {
  await assert.rejects(
    resolveCliConfig({ flags: { controller: "" }, env: {} }),
    (error) =>
      isEtherplaneError(error, "INVALID_ARGUMENT") &&
      error.message.startsWith("--controller is empty"),
  );
  await assert.rejects(
    resolveCliConfig({ flags: { controller: "not a url" }, env: {} }),
    /--controller: "not a url" is not a URL/,
  );
  await assert.rejects(
    resolveCliConfig({ flags: { controller: "http://user:pw@c" }, env: {} }),
    /must not hold a user name or password/,
  );
  await assert.rejects(
    resolveCliConfig({ env: { ETHERPLANE_TOKEN: "ept\nsecret" } }),
    (error) =>
      isEtherplaneError(error, "INVALID_ARGUMENT") &&
      error.message.startsWith("ETHERPLANE_TOKEN holds spaces or control characters") &&
      !error.message.includes("secret"),
  );
});
