/** Captured `ip -j -d link show` output (fixtures/README.md), for tests. */
import { readFileSync } from "node:fs";

// Compiled tests run from dist/src/net/host-network; the fixtures stay in the source tree.
const FIXTURES = new URL("../../../../src/net/host-network/fixtures/", import.meta.url);

export function readIpLinkFixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}
