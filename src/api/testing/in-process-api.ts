/**
 * The real controller over an in-memory SQLite store, called through the real Hono app (no
 * socket), with a clock the test moves: for route tests that check status codes and bodies.
 */
import { Controller } from "../../cluster/controller/controller.js";
import { IN_MEMORY } from "../../cluster/store/sqlite/open-database.js";
import { openSqliteStore } from "../../cluster/store/sqlite/sqlite-store.js";
import { createApi } from "../app.js";

export interface Reply<T> {
  status: number;
  body: T;
}

export type ErrorBody = { error: { code: string; message: string } };

export async function inProcessApi(now: { ms: number } = { ms: Date.now() }) {
  const store = await openSqliteStore(IN_MEMORY);
  const controller = new Controller(store, () => now.ms);
  const app = createApi({ controller });
  const admin = (await controller.auth.createToken({ name: "admin", role: "admin" })).secret;
  const call = async <T = ErrorBody>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<Reply<T>> => {
    const response = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  /** A host joined with a join token, and its agent's token. */
  const joinHost = async (name: string, roles: string[]) => {
    const join = await call<{ secret: string }>("POST", "/api/v1/tokens", admin, {
      name,
      role: "join",
    });
    const joined = await call<{ hostId: string; token: string }>(
      "POST",
      "/api/v1/agent/join",
      join.body.secret,
      { name, roles, exportInterfaces: [] },
    );
    if (joined.status !== 201) throw new Error(`join ${name}: ${JSON.stringify(joined.body)}`);
    return joined.body;
  };
  return { store, controller, app, call, admin, now, joinHost, close: () => store.close() };
}
