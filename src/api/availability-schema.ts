/** The domain view's `availability` (controller/domain-availability.ts), as the API documents it. */
import { z } from "@hono/zod-openapi";

const AvailabilityWindowSchema = z.object({
  fromMs: z.number().int(),
  toMs: z.number().int(),
  wantedMs: z
    .number()
    .int()
    .openapi({ description: "time its desired state was running within the window" }),
  upMs: z
    .number()
    .int()
    .openapi({ description: "of wantedMs, the time its agent observed it running" }),
  percent: z.number().nullable().openapi({
    description:
      "upMs / wantedMs in percent (2 decimals); null: never wanted running in the window",
  }),
});

export const DomainAvailabilitySchema = z
  .object({
    last24h: AvailabilityWindowSchema,
    sinceCreated: AvailabilityWindowSchema.openapi({
      description:
        "from its creation (or the oldest of the 1,000 state changes kept per domain) to now",
    }),
  })
  .openapi("DomainAvailability", {
    description:
      "uptime: the time the domain was running while its desired state was running, over the time its desired state was running (a domain stopped or paused on purpose is not counted against it)",
  });
