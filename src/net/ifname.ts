/**
 * Linux interface names: IFNAMSIZ is 16 bytes including the terminating NUL
 * (include/uapi/linux/if.h), so a name has at most 15. The one definition: the AF_PACKET socket,
 * host networks (bridges, VLAN interfaces), QEMU's taps and Xen's vif bridges all check it.
 */
export const IFNAME_BYTES_MAX = 15;
