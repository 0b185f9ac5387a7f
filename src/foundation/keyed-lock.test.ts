import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "./errors.js";
import { KeyedLock, LOCK_WAITERS_MAX } from "./keyed-lock.js";

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("calls on one key take turns; other keys run alongside", async () => {
  const lock = new KeyedLock();
  const events: string[] = [];
  const step = (name: string) => async () => {
    events.push(`${name} in`);
    await tick();
    await tick();
    events.push(`${name} out`);
  };
  await Promise.all([
    lock.run(["a"], step("a1")),
    lock.run(["a"], step("a2")),
    lock.run(["b"], step("b")),
  ]);
  const at = (event: string) => events.indexOf(event);
  assert.ok(at("a2 in") > at("a1 out"), events.join(", "));
  assert.ok(at("b in") < at("a1 out"), events.join(", "));
  assert.equal(lock.isBusy("a"), false);
});

test("two calls taking the same keys in opposite orders do not deadlock", async () => {
  const lock = new KeyedLock();
  const order: number[] = [];
  await Promise.all([
    lock.run(["x", "y"], async () => {
      await tick();
      order.push(1);
    }),
    lock.run(["y", "x"], () => {
      order.push(2);
      return Promise.resolve();
    }),
  ]);
  assert.deepEqual(order, [1, 2]);
});

test("isBusy while held or awaited; released after a throw; waiters are bounded", async () => {
  const lock = new KeyedLock();
  let release = () => {};
  const held = lock.run(["k"], () => new Promise<void>((resolve) => (release = resolve)));
  await tick();
  assert.equal(lock.isBusy("k"), true);
  const waiting = Array.from({ length: LOCK_WAITERS_MAX - 1 }, () =>
    lock.run(["k"], async () => {}),
  );
  await assert.rejects(
    lock.run(["k"], async () => {}),
    (e) => isEtherplaneError(e, "CONFLICT"),
  );
  release();
  await Promise.all([held, ...waiting]);
  assert.equal(lock.isBusy("k"), false);
  await assert.rejects(
    lock.run(["k"], () => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.equal(lock.isBusy("k"), false);
  await lock.run(["k"], async () => {});
});

test("a key alone is a list of one; the bound and the refusal's words are the caller's", async () => {
  const lock = new KeyedLock({ waitersMax: 2, what: "guest", param: "name" });
  let release = () => {};
  const held = lock.run("web", () => new Promise<void>((resolve) => (release = resolve)));
  const second = lock.run(["web"], () => Promise.resolve("second"));
  await assert.rejects(
    lock.run("web", async () => {}),
    (e) =>
      isEtherplaneError(e, "CONFLICT") &&
      e.params["name"] === "web" &&
      /2 calls already wait on guest web/.test(e.message),
  );
  assert.equal(await lock.run("other", () => Promise.resolve("alongside")), "alongside");
  release();
  await held;
  assert.equal(await second, "second");
  assert.equal(lock.isBusy("web"), false);
});
