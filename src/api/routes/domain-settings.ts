/**
 * PATCH /api/v1/domains/{ref}/settings: a domain's etherplane settings (placement and high
 * availability) in one call, checked whole, written and audited once (domain-settings.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp, ApiDeps } from "../context.js";
import { DomainReply } from "../replies.js";
import { audit, bearer, body, errors, json, need } from "../route-kit.js";

const ref = z.object({ ref: z.string().min(1).max(128).openapi({ description: "name or id" }) });

const DomainSettingsRequest = z
  .object({
    antiAffinity: z.string().max(64).nullable().optional().openapi({
      description: 'the anti-affinity group; null or "" clears it',
    }),
    pin: z.array(z.string().min(1).max(128)).max(64).optional().openapi({
      description: "host names or ids the domain may run on; [] clears the pinning",
    }),
    ha: z.enum(["on", "off", "auto"]).optional().openapi({
      description:
        "restarted elsewhere when its host dies; auto: on when on_crash or on_reboot is restart",
    }),
    haPriority: z.number().int().optional().openapi({
      description: "-1000..1000; the highest priority restarts first",
    }),
  })
  .strict()
  .openapi("DomainSettingsRequest");

export function domainSettingsRoutes(app: ApiApp, { controller }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "patch",
      path: "/api/v1/domains/{ref}/settings",
      tags: ["domains"],
      security: bearer,
      request: { params: ref, ...body(DomainSettingsRequest) },
      responses: {
        200: json(DomainReply, "set; placement settings are used from the next placement"),
        ...errors,
      },
    }),
    async (c) => {
      const principal = need(c, "write");
      const spec = c.req.valid("json");
      const domain = await controller.domainSettings.set(
        c.req.valid("param").ref,
        {
          ...(spec.antiAffinity === undefined ? {} : { antiAffinity: spec.antiAffinity }),
          ...(spec.pin === undefined ? {} : { pin: spec.pin }),
          ...(spec.ha === undefined ? {} : { ha: spec.ha }),
          ...(spec.haPriority === undefined ? {} : { haPriority: spec.haPriority }),
        },
        principal.name,
      );
      audit(c, `domain ${domain.name} settings ${JSON.stringify(spec).slice(0, 200)}`);
      return c.json({ domain }, 200);
    },
  );
}
