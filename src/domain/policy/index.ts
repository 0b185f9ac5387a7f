/** The domain policy: refused xl.cfg keys (a table), domain names and vdevs. */
export * from "./policy-table.js";
export * from "./domain-policy.js";
export * from "./names.js";
