/**
 * Request bodies: the limit still holds for every request that has a body, while requests
 * without one (GET, a lease renewal with Content-Length: 0) skip the body-limit middleware
 * (app.ts). The real controller and Hono app, in process.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inProcessApi } from "./testing/in-process-api.js";

describe("request bodies", () => {
  test("over 1 MiB is refused with 413, with or without a Content-Length; none passes", async () => {
    const b = await inProcessApi();
    const joined = await b.joinHost("h1", ["storage"]);
    const huge = JSON.stringify({ pad: "x".repeat(1024 * 1024 + 1) });
    const put = (headers: Record<string, string>, body?: string) =>
      b.app.request("/api/v1/agent/status", {
        method: "PUT",
        headers: {
          authorization: `Bearer ${joined.token}`,
          "content-type": "application/json",
          ...headers,
        },
        ...(body === undefined ? {} : { body }),
      });
    const declared = await put({ "content-length": String(huge.length) }, huge);
    assert.equal(declared.status, 413);
    const streamed = await put({}, huge);
    assert.equal(streamed.status, 413, "no Content-Length: counted as it is read");
    const empty = await put({ "content-length": "0" });
    assert.equal(empty.status, 400, "no body where one is needed: a clear 400, not a pass");
    assert.match(await empty.text(), /JSON|body/i);
    const renewal = await b.app.request("/api/v1/agent/lease", {
      method: "POST",
      headers: { authorization: `Bearer ${joined.token}`, "content-length": "0" },
    });
    assert.equal(renewal.status, 200, "a renewal without a body is served");
    await b.close();
  });
});
