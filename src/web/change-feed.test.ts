import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { ChangeFeed, type Topic } from "./change-feed.js";

function lists(over: Partial<Record<Topic, string>> = {}): Record<Topic, string> {
  return {
    ...{ hosts: "[]", pools: "[]", volumes: "[]", domains: "[]", tasks: "[]", events: "0" },
    ...over,
  };
}

test("listeners hear which topics changed, and nothing when nothing did", async () => {
  let state = lists();
  const feed = new ChangeFeed(
    () => Promise.resolve(state),
    (e) => assert.fail(String(e)),
    60_000,
  );
  const heard: Array<{ version: number; topics: Topic[] }> = [];
  const unsubscribe = feed.subscribe((change) => heard.push(change));
  await feed.check();
  assert.deepEqual(heard, [
    { version: 1, topics: ["hosts", "pools", "volumes", "domains", "tasks", "events"] },
  ]);
  await feed.check();
  assert.equal(heard.length, 1, "an unchanged store pushes nothing");
  state = lists({ volumes: '[{"name":"web"}]', tasks: '[{"id":"t"}]' });
  await feed.check();
  assert.deepEqual(heard[1], { version: 2, topics: ["volumes", "tasks"] });
  unsubscribe();
  assert.equal(feed.listenerCount, 0);
  state = lists();
  await feed.check();
  assert.equal(heard.length, 2, "a removed listener hears nothing");
});

test("listeners are bounded; a failing snapshot is reported, not thrown", async () => {
  const errors: unknown[] = [];
  const feed = new ChangeFeed(
    () => Promise.reject(new Error("store closed")),
    (e) => errors.push(e),
    60_000,
    1,
  );
  let stopped = false;
  feed.subscribe(
    () => assert.fail("no change to hear"),
    () => (stopped = true),
  );
  assert.throws(
    () => feed.subscribe(() => undefined),
    (e) => isEtherplaneError(e, "UNAVAILABLE"),
  );
  await feed.check();
  assert.equal(errors.length, 1);
  feed.stop();
  assert.ok(stopped, "stop ends every listener's stream");
  assert.equal(feed.listenerCount, 0);
});
