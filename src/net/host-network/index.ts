/**
 * Host networks: a Linux bridge, optionally with an uplink, optionally through an 802.1Q VLAN
 * interface on it. Pure: spec validation, `ip -j -d link show` parsing, planning, shell rendering.
 * I/O: `readObserved`, `applyHostNetwork`, `removeHostNetwork` through an `IpRunner`.
 *
 *   await applyHostNetwork({ name: "lan10", bridge: "xenbr10", uplink: "eth1", vlanId: 10 });
 */
export {
  HOST_NETWORK_LIMITS,
  bridgePortName,
  interfaceNameProblem,
  validateHostNetworkSpec,
  vlanInterfaceName,
  type HostNetworkSpec,
} from "./spec.js";
export {
  IP_LINK_JSON_LIMITS,
  parseIpLinkJson,
  type LinkKind,
  type ObservedLink,
} from "./ip-link-json.js";
export { planHostNetwork, planHostNetworkRemoval, type IpCommand } from "./plan.js";
export { renderPlanAsShell, shellQuote } from "./shell.js";
export { createIpRunner, type IpRunner, type IpRunnerOptions } from "./ip-runner.js";
export {
  NO_8021Q_MESSAGE,
  applyHostNetwork,
  readObserved,
  removeHostNetwork,
  type HostNetworkIoOptions,
  type HostNetworkResult,
} from "./apply.js";
