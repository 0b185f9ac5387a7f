/** What every route handler gets: the controller and the caller's principal. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "../cluster/controller/auth-service.js";
import type { Controller } from "../cluster/controller/controller.js";
import type { WebServices } from "../web/web-services.js";

export interface ApiEnv {
  Variables: {
    principal: Principal;
    /** What a mutating call acted on, for the audit log. */
    auditSubject: string | undefined;
  };
}

export type ApiApp = OpenAPIHono<ApiEnv>;

export interface ApiDeps {
  controller: Controller;
  /** The web UI (its files, console tickets, change feed); without it there is none. */
  web?: WebServices;
}
