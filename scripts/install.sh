#!/usr/bin/env bash
# The one install command (README): Debian packages the features and tests need, npm packages,
# the native AF_PACKET addon (built by `npm ci` through binding.gyp), and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  build-essential python3       # node-gyp: the native addon
  iproute2                      # ip netns / veth / bridge for tests and networking
  qemu-system-x86 qemu-utils    # Linux initiator guest under QEMU/TCG; qemu-io through the NBD bridge
  busybox-static kmod cpio xz-utils zstd # the guest's initramfs
  e2fsprogs                     # mkfs/e2fsck on volumes
  xfsprogs                      # mkfs.xfs -m reflink=1: the DirectoryPool reflink tests
  vblade                        # reference AoE target for interoperability tests and benchmarks
  tshark tcpdump                # frame dissection in tests
  procps                        # pkill: test labs end the detached guests and disk bridges they leave
  chromium                      # the web UI's browser tests (headless, driven by playwright-core)
  openssh-client rsync acl attr # p2v: the --final pass (rsync over ssh), ACL/xattr tools on the copy
  openssh-server                # p2v tests: the "physical server" is a real sshd
  extlinux                      # p2v --boot volume: the copy boots from its own volume
)

missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install: need root to install Debian packages: ${missing[*]}" >&2
    echo "install: run again as root (sudo $0)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
echo "install: done. Run the tests with: npm test"
