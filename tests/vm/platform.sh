# Sourced by tests/vm/run and tests/vm/base.sh: everything that differs between the
# guests the VM tests can boot, in one place, and the private apt both use to find them.
# Adding an architecture or a kernel is adding a case below, not copying the scripts.
#
#   KV_VM_ARCH    guest architecture (default x86_64)
#   KV_VM_KERNEL  guest kernel series (default 6.1); VM_KERNELS lists what tests/all runs
#
# Callers define die(). Everything here is data or a small function; nothing runs.

VM_ARCH=${KV_VM_ARCH:-x86_64}
VM_KERNEL=${KV_VM_KERNEL:-6.1}
# The kernels the whole suite runs on: Debian 12's (the oldest in wide use) and the
# series Raspberry Pi OS and Armbian ship.
VM_KERNELS="6.1 6.12"
# Every architecture a release binary is built for (scripts/release). tests/all runs the
# non-x86 ones on the first kernel of VM_KERNELS only: TCG on two cores is the budget.
VM_ARCHS="x86_64 aarch64 armv7"

# --- architecture ------------------------------------------------------------------
# DEB_ARCH          Debian architecture of the guest's kernel and programs
# KERNEL_FLAVOUR    linux-image-FLAVOUR is the metapackage naming the current ABI
# KERNEL_IMAGE_PKG  the package holding the kernel image, from the ABI
# KERNEL_BOOT       how base.sh turns /boot/vmlinuz-ABI into OUT/kernel (see base.sh)
# MULTIARCH         Debian's library folder name for DEB_ARCH (/usr/lib/MULTIARCH)
# RUST_TARGET       target kv and guest-tools are built for (static, musl)
# QEMU_PACKAGES     Debian packages with the host's emulator and its firmware
# QEMU_BIN, QEMU_MACHINE_ARGS, GUEST_CONSOLE   the emulator and how it is told the board
# KBUILD_ARCH       the kernel's ARCH= for out-of-tree modules
# CROSS_COMPILE     prefix of the host's cross gcc for those modules ("" = the host's gcc),
#                   CROSS_GCC_PKG the Debian package that has it
# KV_BUILD          how kv is built: "cargo" (cargo build for RUST_TARGET with musl-gcc;
#                   KV_VM_PROFILE applies) or "release" (scripts/release: the very binary
#                   that is shipped, smoke-tested under qemu-user first)
case $VM_ARCH in
  x86_64)
    DEB_ARCH=amd64
    KERNEL_FLAVOUR=amd64
    kernel_image_pkg() { echo "linux-image-$1-unsigned"; }
    KERNEL_BOOT=pvh-vmlinux
    MULTIARCH=x86_64-linux-gnu
    RUST_TARGET=x86_64-unknown-linux-musl
    QEMU_PACKAGES="qemu-system-x86 qemu-system-common qemu-system-data seabios ipxe-qemu"
    QEMU_BIN=qemu-system-x86_64
    QEMU_MACHINE_ARGS="-machine q35 -cpu max"
    GUEST_CONSOLE=ttyS0
    KBUILD_ARCH=x86
    CROSS_COMPILE=""
    CROSS_GCC_PKG=""
    KV_BUILD=cargo
    ;;
  aarch64)
    # Radxa Zero, Raspberry Pi Zero 2W / 3 / 4 (64-bit OS): Cortex-A53 class cores on
    # QEMU's generic "virt" board. -kernel boots Debian's arm64 Image directly (no firmware).
    DEB_ARCH=arm64
    KERNEL_FLAVOUR=arm64
    kernel_image_pkg() { echo "linux-image-$1-unsigned"; }
    KERNEL_BOOT=image
    MULTIARCH=aarch64-linux-gnu
    RUST_TARGET=aarch64-unknown-linux-musl
    QEMU_PACKAGES="qemu-system-arm qemu-system-common qemu-system-data"
    QEMU_BIN=qemu-system-aarch64
    QEMU_MACHINE_ARGS="-machine virt -cpu cortex-a53"
    GUEST_CONSOLE=ttyAMA0
    KBUILD_ARCH=arm64
    CROSS_COMPILE=aarch64-linux-gnu-
    CROSS_GCC_PKG=gcc-aarch64-linux-gnu
    KV_BUILD=release
    ;;
  armv7)
    # Raspberry Pi OS 32-bit: Debian's armmp (multiplatform ARMv7) kernel on "virt" with a
    # Cortex-A15. That kernel has no LPAE, so the board's PCI windows stay below 4 GiB
    # (highmem=off). The armhf image is not signed, so its package has no -unsigned twin.
    DEB_ARCH=armhf
    KERNEL_FLAVOUR=armmp
    kernel_image_pkg() { echo "linux-image-$1"; }
    KERNEL_BOOT=image
    MULTIARCH=arm-linux-gnueabihf
    RUST_TARGET=armv7-unknown-linux-musleabihf
    QEMU_PACKAGES="qemu-system-arm qemu-system-common qemu-system-data"
    QEMU_BIN=qemu-system-arm
    QEMU_MACHINE_ARGS="-machine virt,highmem=off -cpu cortex-a15"
    GUEST_CONSOLE=ttyAMA0
    KBUILD_ARCH=arm
    CROSS_COMPILE=arm-linux-gnueabihf-
    CROSS_GCC_PKG=gcc-arm-linux-gnueabihf
    KV_BUILD=release
    ;;
  *) die "KV_VM_ARCH=$VM_ARCH is not an architecture the tests know (known: $VM_ARCHS); see tests/vm/README.md" ;;
esac

# --- kernel series -----------------------------------------------------------------
# KERNEL_SUITE    the Debian suite whose linux-image-FLAVOUR gives this series ("" = the
#                 private apt's default: bookworm with its updates and security fixes)
# LOOPBACK_SUITE  the suite whose v4l2loopback-dkms source builds against that kernel
#                 (patches for it live in patches/v4l2loopback-VERSION/)
case $VM_KERNEL in
  6.1)
    KERNEL_SUITE=""
    LOOPBACK_SUITE=""               # 0.12.7, patched
    ;;
  6.12)
    # bookworm-backports' 6.12 is built with bookworm's gcc-12 and its linux-kbuild runs
    # on bookworm's libc, so modules build here; trixie's needs gcc-14 and glibc 2.41.
    KERNEL_SUITE=bookworm-backports
    # 0.15.0 (trixie): builds against 6.12 and needs neither of 0.12.7's patches.
    LOOPBACK_SUITE=trixie
    ;;
  *) die "KV_VM_KERNEL=$VM_KERNEL is not a kernel the tests know (known: $VM_KERNELS)" ;;
esac

# Host programs the base needs installed system-wide (never qemu-system-* itself: it would
# replace this image's qemu-utils): QEMU's shared libraries, and dnsmasq-base whose binary
# base.sh copies into the guest.
QEMU_RUNTIME_LIBS="libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2"
HOST_PROGRAMS="dnsmasq-base"

# --- private apt -------------------------------------------------------------------
# Kernels, QEMU and the guest's programs come from a private apt inside the cache: its
# own sources (bookworm and its updates, backports and security, and trixie), lists,
# package cache and an empty dpkg status, so neither `apt-get update` nor
# `apt-get download` here reads or changes the machine's /etc/apt or /var/lib/apt, and
# nothing is installed from it. Its folder name starts with a dot so that older copies
# of tests/vm/run cleaning "$CACHE"/*/*/ leave it alone.
# Suites other than bookworm's are pinned to 100, so a package without an explicit
# suite resolves to bookworm's newest, as on the machine.
vm_apt_init() { # CACHE
  VM_APT=$1/.apt-$DEB_ARCH
  VM_APT_CONF=$VM_APT/apt.conf
  local host_arch keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  host_arch=$(dpkg --print-architecture)
  [ -r "$keyring" ] || die "$keyring is missing; apt-get install debian-archive-keyring"
  mkdir -p "$VM_APT"/{etc/apt.conf.d,etc/sources.list.d,etc/preferences.d,lists/partial,cache/archives/partial}
  touch "$VM_APT/status"
  local deb="deb [signed-by=$keyring] http://deb.debian.org/debian"
  cat > "$VM_APT/etc/sources.list.new" <<EOF
$deb bookworm main
$deb bookworm-updates main
$deb bookworm-backports main
$deb trixie main
deb [signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
EOF
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$VM_APT/etc/preferences"
  cat > "$VM_APT_CONF.new" <<EOF
Dir::Etc::SourceList "$VM_APT/etc/sources.list";
Dir::Etc::SourceParts "$VM_APT/etc/sources.list.d";
Dir::Etc::Parts "$VM_APT/etc/apt.conf.d";
Dir::Etc::Preferences "$VM_APT/etc/preferences";
Dir::Etc::PreferencesParts "$VM_APT/etc/preferences.d";
Dir::State "$VM_APT";
Dir::State::Lists "$VM_APT/lists";
Dir::State::status "$VM_APT/status";
Dir::Cache "$VM_APT/cache";
APT::Architecture "$host_arch";
APT::Architectures { "$host_arch"; "$DEB_ARCH"; };
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
APT::Sandbox::User "root";
EOF
  # A changed source list (a new suite) makes the lists stale.
  if ! cmp -s "$VM_APT/etc/sources.list.new" "$VM_APT/etc/sources.list"; then
    rm -f "$VM_APT/updated"
  fi
  mv "$VM_APT/etc/sources.list.new" "$VM_APT/etc/sources.list"
  mv "$VM_APT_CONF.new" "$VM_APT_CONF"
}
vm_apt() { APT_CONFIG=$VM_APT_CONF "$@"; }
vm_apt_update() {
  vm_apt apt-get update -qq ||
    die "apt-get update of the private lists in $VM_APT failed; is deb.debian.org reachable?"
  touch "$VM_APT/updated"
}
# Refreshes the lists when they are missing or a day old: ABIs move on, and the mirror
# drops the packages of old ones.
vm_apt_refresh() {
  if [ ! -e "$VM_APT/updated" ] || [ -n "$(find "$VM_APT/updated" -mmin +1440)" ]; then
    vm_apt_update
  fi
}
# PKG[/SUITE] for a suite variable that may be empty.
in_suite() { echo "$1${2:+/$2}"; }

# The kernel ABI (e.g. 6.1.0-57-amd64, 6.12.95+deb12-amd64) the suite's metapackage
# depends on today; never pinned, since old ABIs vanish from the mirror.
vm_kernel_abi() {
  vm_apt apt-cache depends "$(in_suite "linux-image-$KERNEL_FLAVOUR:$DEB_ARCH" "$KERNEL_SUITE")" 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/^linux-image-/, "", $2); sub(/:.*/, "", $2); print $2; exit }'
}
