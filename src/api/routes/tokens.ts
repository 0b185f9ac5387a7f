/** /api/v1/tokens: API tokens and join tokens (a secret is shown once, at creation). */
import { createRoute } from "@hono/zod-openapi";
import { EtherplaneError } from "../../foundation/errors.js";
import type { ApiApp, ApiDeps } from "../context.js";
import { numberKey, page, PageQuery } from "../paging.js";
import { TokenCreatedReply, TokenListReply } from "../replies.js";
import { audit, bearer, body, errors, idParam, json, need } from "../route-kit.js";
import { CreateTokenRequest } from "../schemas.js";

export function tokenRoutes(app: ApiApp, { controller }: ApiDeps): void {
  const { store } = controller;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/tokens",
      tags: ["tokens"],
      security: bearer,
      request: { query: PageQuery },
      responses: {
        200: json(TokenListReply, "the tokens (never their secrets), oldest first"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const { items, nextCursor } = page(
        await store.listTokens(),
        (t) => `${numberKey(t.createdMs)}\u0000${t.id}`,
        c.req.valid("query"),
      );
      return c.json(
        { tokens: items.map(({ secretHash: _hash, ...token }) => token), nextCursor },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/tokens",
      tags: ["tokens"],
      security: bearer,
      request: body(CreateTokenRequest),
      responses: {
        201: json(TokenCreatedReply, "the secret is shown this once"),
        ...errors,
      },
    }),
    async (c) => {
      need(c, "admin");
      const spec = c.req.valid("json");
      const ttlMs = spec.expiresInSeconds === undefined ? undefined : spec.expiresInSeconds * 1000;
      if (spec.replace && spec.role !== "join")
        throw new EtherplaneError(
          "INVALID_ARGUMENT",
          "replace: only a join token replaces a host (--role join --replace)",
          { params: { field: "replace" } },
        );
      const replaced = spec.replace ? await store.findHostByName(spec.name) : undefined;
      if (spec.replace && !replaced)
        throw new EtherplaneError(
          "NOT_FOUND",
          `no host ${spec.name} to replace (etherplane host list); a new host joins with a token made without --replace`,
          { params: { field: "name" } },
        );
      const { token, secret } =
        spec.role === "join"
          ? await controller.auth.createJoinToken({
              hostName: spec.name,
              ...(ttlMs === undefined ? {} : { ttlMs }),
              replaceHostId: replaced?.id ?? null,
            })
          : await controller.auth.createToken({
              name: spec.name,
              role: spec.role,
              expiresMs: ttlMs === undefined ? null : Date.now() + ttlMs,
            });
      audit(
        c,
        `token ${token.name} (${token.role}${replaced ? `, replaces host ${replaced.id}` : ""})`,
      );
      const { secretHash: _hash, ...shown } = token;
      return c.json({ token: shown, secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api/v1/tokens/{id}",
      tags: ["tokens"],
      security: bearer,
      request: { params: idParam },
      responses: { 204: { description: "revoked" }, ...errors },
    }),
    async (c) => {
      need(c, "admin");
      await controller.auth.revoke(c.req.valid("param").id);
      audit(c, `token ${c.req.valid("param").id}`);
      return c.body(null, 204);
    },
  );
}
