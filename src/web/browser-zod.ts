/**
 * What the web bundle gets for `@hono/zod-openapi` (build-web.ts aliases it here), so that the
 * browser checks the controller's replies with the API's own schemas (src/api/replies.ts) for
 * ~30 KiB gzipped: the real package brings all of zod (its `z` namespace keeps every locale and
 * the JSON Schema converters, ~100 KiB) and hono. Only the builders the schemas use, by name so
 * that the rest is left out; `.openapi()` (metadata for the OpenAPI document) does nothing here.
 * browser-zod.test.ts checks that every `z.<name>` the schemas use is here.
 */
import {
  array,
  boolean,
  coerce,
  enum as zodEnum,
  literal,
  null as zodNull,
  number,
  object,
  record,
  string,
  undefined as zodUndefined,
  union,
  unknown,
  ZodType,
} from "zod";

// Why the cast: adding a method to zod's base class, as @hono/zod-openapi itself does.
(ZodType.prototype as unknown as { openapi: unknown }).openapi = function (this: ZodType) {
  return this;
};

export const z = {
  array,
  boolean,
  coerce,
  enum: zodEnum,
  literal,
  null: zodNull,
  number,
  object,
  record,
  string,
  undefined: zodUndefined,
  union,
  unknown,
};
