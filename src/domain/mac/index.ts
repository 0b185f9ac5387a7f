/** Vif MAC addresses: canonical form, Xen OUI test, cluster-unique allocation (pure). */
export { XEN_OUI, formatMac, isXenOui, macBytes, normalizeMac } from "./mac-address.js";
export {
  MAC_ATTEMPTS_DEFAULT,
  XEN_MAC_SPACE_SIZE,
  allocateMac,
  type AllocateMacOptions,
  type MacRandom,
} from "./mac-allocator.js";
