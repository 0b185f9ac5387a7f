import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { ConsoleTickets } from "./console-tickets.js";

const principal = { tokenId: "tok-1", name: "ops", role: "operator" as const, hostId: null };

test("a ticket opens once, for the principal and domain it was issued for", () => {
  const tickets = new ConsoleTickets(() => 1000, 30_000, 4);
  const { ticket, expiresMs } = tickets.issue({ principal, domainId: "dom-1" });
  assert.match(ticket, /^ect_/);
  assert.equal(expiresMs, 31_000);
  assert.deepEqual(tickets.take(ticket), { principal, domainId: "dom-1" });
  assert.throws(
    () => tickets.take(ticket),
    (e) => isEtherplaneError(e, "UNAUTHENTICATED"),
  );
});

test("unknown, missing and expired tickets are refused with what to do", () => {
  let now = 0;
  const tickets = new ConsoleTickets(() => now, 1000, 4);
  const { ticket } = tickets.issue({ principal, domainId: "dom-1" });
  assert.throws(() => tickets.take(null), /ask for a new one/);
  assert.throws(
    () => tickets.take("ect_guess"),
    (e) => isEtherplaneError(e, "UNAUTHENTICATED"),
  );
  now = 1001;
  assert.throws(
    () => tickets.take(ticket),
    (e) => isEtherplaneError(e, "UNAUTHENTICATED"),
  );
});

test("outstanding tickets are bounded; expired ones make room", () => {
  let now = 0;
  const tickets = new ConsoleTickets(() => now, 1000, 2);
  tickets.issue({ principal, domainId: "a" });
  tickets.issue({ principal, domainId: "b" });
  assert.throws(
    () => tickets.issue({ principal, domainId: "c" }),
    (e) => isEtherplaneError(e, "UNAVAILABLE"),
  );
  now = 2000;
  tickets.issue({ principal, domainId: "c" });
  assert.equal(tickets.size, 1);
});
