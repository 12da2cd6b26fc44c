#!/bin/bash
# Builds everything the test VM needs that does not depend on kv's source, from
# Debian packages only, into one cache folder:
#
#   OUT/qemu/          the host's QEMU and its firmware, extracted (never installed)
#   OUT/kernel         the kernel QEMU boots (x86_64: the ELF vmlinux, booted through its
#                      PVH entry: no BIOS real mode, no in-guest decompression, ~3 s
#                      faster under TCG; ARM: Debian's Image/zImage as it is)
#   OUT/busybox        the host's static busybox, to pack the per-run cpio
#   OUT/base.cpio.gz   busybox, the kernel modules the scenarios use (with their
#                      modules.dep closure), v4l2-ctl, ip, dnsmasq, v4l2loopback.ko
#                      built from the Debian source that suits this kernel, and
#                      kv_vm_crash.ko (crash-module/: kernel failures on request for
#                      the harness's self-test) and kv_vm_gpio.ko (gpio-module/: GPIO
#                      lines with edge interrupts for the ATX scenario)
#   OUT/versions       what went in, one line each
#
# Usage: KV_VM_ARCH=.. KV_VM_KERNEL=.. base.sh KERNEL_ABI OUT
# (called by tests/vm/run, which has resolved KERNEL_ABI, e.g. 6.1.0-57-amd64, through
# the private apt of platform.sh and refreshed its lists). Packages come from that
# private apt with `apt-get download`; only QEMU's shared libraries, dnsmasq-base (the
# binary alone, no service; it is copied into an x86_64 guest with its libraries) and,
# for an ARM guest, the cross gcc that builds v4l2loopback are installed system-wide,
# through the machine's own apt.
set -euo pipefail

KVER=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$(dirname "$(dirname "$OUT")")
DEBS=$(dirname "$OUT")/debs
WORK=$OUT.work

die() { echo "base.sh: $*" >&2; exit 1; }
. "$HERE/platform.sh"
vm_apt_init "$CACHE"

# Kernel modules the scenarios may load; their dependencies come from modules.dep.
MODULES="vivid v4l2loopback
 dummy_hcd libcomposite usb_f_hid usb_f_mass_storage usb_f_ecm usb_f_ncm usb_f_rndis usb_f_acm cdc_acm
 usbhid hid_generic evdev usb_storage sd_mod sr_mod cdrom cdc_ether cdc_ncm rndis_host
 loop vfat nls_cp437 nls_ascii nls_utf8
 kv_vm_crash kv_vm_gpio"

step() { echo "[vm-base $(date +%T)] $*" >&2; }

HOST_ARCH=$(dpkg --print-architecture)
missing_libs=""
for p in $QEMU_RUNTIME_LIBS $HOST_PROGRAMS $CROSS_GCC_PKG; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing_libs="$missing_libs $p"
done
if [ -n "$missing_libs" ]; then
  step "apt-get install QEMU runtime libraries and tools:$missing_libs"
  # Other jobs on the machine may hold dpkg's lock for a while: wait for it.
  if ! log=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 $missing_libs 2>&1); then
    echo "$log" >&2
    die "could not install QEMU's libraries:$missing_libs (needs root and apt; run apt-get update?)"
  fi
fi

# The kernel image, headers and kbuild must be the same Debian version; the headers
# package names its -common and linux-kbuild packages (their names differ between
# series: linux-kbuild-6.1, linux-kbuild-6.12.95+deb12).
KPKG=$(kernel_image_pkg "$KVER")
KDEBV=$(vm_apt apt-cache show "$KPKG:$DEB_ARCH" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
[ -n "$KDEBV" ] || die "the private apt knows no $KPKG:$DEB_ARCH; its lists ($VM_APT) may be stale"
# Guest packages are asked for as PKG:DEB_ARCH; -common (arch: all) and linux-kbuild
# (its programs run on the host while the module builds) stay the host's. For a foreign
# architecture apt-cache names them <virtual:arch>: hence the brackets stripped.
HEADER_DEPS=$(vm_apt apt-cache depends "linux-headers-$KVER:$DEB_ARCH=$KDEBV" |
  awk '$1 == "Depends:" { gsub(/[<>]/, "", $2) }
       $1 == "Depends:" && $2 ~ /^linux-(headers|kbuild)-/ { sub(/:.*/, "", $2); print $2 }')
HEADER_PKGS="linux-headers-$KVER $HEADER_DEPS"
LOOPBACK_PKG=$(in_suite v4l2loopback-dkms "$LOOPBACK_SUITE")
# The guest's v4l2-ctl brings its own C and C++ libraries, whatever the host has.
GUEST_LIBS="libc6 libgcc-s1 libstdc++6 libudev1 libjpeg62-turbo"
GUEST_PROGRAMS="busybox-static v4l-utils libv4l-0 libv4lconvert0 $GUEST_LIBS"
PACKAGES="$QEMU_PACKAGES $KPKG:$DEB_ARCH=$KDEBV linux-headers-$KVER:$DEB_ARCH=$KDEBV"
for p in $HEADER_DEPS; do PACKAGES="$PACKAGES $p=$KDEBV"; done
for p in $GUEST_PROGRAMS; do PACKAGES="$PACKAGES $p:$DEB_ARCH"; done
# The host's own busybox runs depmod, unxz and cpio here, whatever the guest's architecture.
[ "$HOST_ARCH" = "$DEB_ARCH" ] || PACKAGES="$PACKAGES busybox-static:$HOST_ARCH"
PACKAGES="$PACKAGES $LOOPBACK_PKG"

# deb NAME [ARCH]: the downloaded .deb (files are NAME_VERSION_ARCH.deb).
deb() {
  ls "$DEBS/$1"_*_${2:-*}.deb 2>/dev/null | head -1 | grep . ||
    die "$DEBS has no ${2:+$2 }$1 package: apt-get download failed (see above)"
}
mkdir -p "$DEBS"
want=""
for p in $PACKAGES; do
  name=${p%%[:=/]*}
  arch=""
  case $p in *:*) arch=${p#*:}; arch=${arch%%[=/]*} ;; esac
  (deb "$name" "$arch") >/dev/null 2>&1 || want="$want $p"
done
if [ -n "$want" ]; then
  step "apt-get download:$want"
  (cd "$DEBS" && vm_apt apt-get download -q $want 2>&1 | tail -1) >&2
fi
step "extract packages"
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK"/{kernel,headers,busybox,host-busybox,v4l,v4l2loopback} "$OUT/qemu"
for p in $QEMU_PACKAGES; do dpkg -x "$(deb "$p")" "$OUT/qemu"; done
dpkg -x "$(deb "$KPKG")" "$WORK/kernel"
for p in $HEADER_PKGS; do dpkg -x "$(deb "$p")" "$WORK/headers"; done
dpkg -x "$(deb busybox-static "$DEB_ARCH")" "$WORK/busybox"
dpkg -x "$(deb busybox-static "$HOST_ARCH")" "$WORK/host-busybox"
for p in v4l-utils libv4l-0 libv4lconvert0 $GUEST_LIBS; do dpkg -x "$(deb "$p" "$DEB_ARCH")" "$WORK/v4l"; done
dpkg -x "$(deb v4l2loopback-dkms)" "$WORK/v4l2loopback"
BB=$WORK/host-busybox/bin/busybox       # runs here
GUEST_BB=$WORK/busybox/bin/busybox      # runs in the guest
KHDR=$WORK/headers/usr/src/linux-headers-$KVER
# The arch headers' Makefile includes the common tree by its absolute /usr/src path.
sed -i "s#/usr/src/#$WORK/headers/usr/src/#" "$KHDR/Makefile"

case $KERNEL_BOOT in
  pvh-vmlinux)
    # The bzImage's payload is the compressed ELF vmlinux: xz in Debian's 6.1, zstd in its
    # 6.12. The boot header says where it is (setup_sects at 0x1f1, payload_offset and
    # payload_length at 0x248); zstd's payload ends with the 4-byte uncompressed size.
    step "vmlinux from the bzImage's payload"
    python3 - "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/kernel" <<'EOF'
import lzma, shutil, struct, subprocess, sys, zlib
image, out = sys.argv[1:]
data = open(image, "rb").read()
offset, length = struct.unpack_from("<II", data, 0x248)
start = ((data[0x1F1] or 4) + 1) * 512 + offset
payload = data[start:start + length]
if payload.startswith(b"\xfd7zXZ\x00"):
    elf = lzma.LZMADecompressor().decompress(payload)
elif payload.startswith(b"\x1f\x8b"):
    elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
elif payload.startswith(b"\x28\xb5\x2f\xfd"):
    if not shutil.which("zstd"):
        sys.exit(f"{image}: the payload is zstd and there is no zstd program: apt-get install zstd")
    elf = subprocess.run(["zstd", "-dcq"], input=payload[:-4], stdout=subprocess.PIPE, check=True).stdout
else:
    sys.exit(f"{image}: payload starts {payload[:4].hex()}, a compression this script does not know")
if elf[:4] != b"\x7fELF":
    sys.exit(f"{image}: the decompressed payload is not an ELF kernel")
open(out, "wb").write(elf)
EOF
    ;;
  image)
    # ARM: QEMU's -kernel takes Debian's arm64 Image and armhf zImage as they are.
    cp "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/kernel"
    ;;
  *) die "KERNEL_BOOT=$KERNEL_BOOT (platform.sh, $VM_ARCH) is not a way base.sh knows" ;;
esac

# Patches are kept per upstream version (patches/v4l2loopback-0.12.7/): a source version
# with no folder builds unpatched, and says so in OUT/versions.
SRC=$(ls -d "$WORK"/v4l2loopback/usr/src/v4l2loopback-*)
LOOPBACK_VERSION=${SRC##*/v4l2loopback-}
patched=unpatched
for p in "$HERE/patches/v4l2loopback-$LOOPBACK_VERSION"/*.patch; do
  [ -e "$p" ] || continue
  patch -s -d "$SRC" -p1 < "$p" || die "$p does not apply to v4l2loopback $LOOPBACK_VERSION"
  patched="${patched/unpatched/patched:} $(basename "$p" .patch)"
done
MODTREE=$WORK/kernel/lib/modules/$KVER
mkdir -p "$MODTREE/extra"
# build_module DIR NAME HINT : builds the out-of-tree module NAME.ko in DIR against the
# headers into the kernel's extra/. No BTF: 6.12's kbuild would run pahole (dwarves),
# which nothing here needs. For ARM the headers' scripts/ are the host's (linux-kbuild
# is the host's package) and the module itself comes from the cross gcc.
build_module() {
  local log
  if ! log=$(make -s -C "$KHDR" M="$1" ARCH="$KBUILD_ARCH" CROSS_COMPILE="$CROSS_COMPILE" \
      CONFIG_DEBUG_INFO_BTF_MODULES= modules 2>&1) || [ ! -e "$1/$2.ko" ]; then
    echo "$log" >&2
    die "$2 does not build against $KVER; $3"
  fi
  echo "$log" | grep -v -e 'Skipping BTF generation' -e '^$' >&2 || true
  cp "$1/$2.ko" "$MODTREE/extra/"
}
step "build v4l2loopback $LOOPBACK_VERSION ($patched) against $KVER headers"
build_module "$SRC" v4l2loopback \
  "v4l2loopback $LOOPBACK_VERSION may be too old for it: see platform.sh's LOOPBACK_SUITE for $VM_KERNEL"
# The self-test's crash module (Debian builds no lkdtm), built the same way.
cp -r "$HERE/crash-module" "$WORK/crash-module"
build_module "$WORK/crash-module" kv_vm_crash "fix tests/vm/crash-module for this kernel"
# GPIO lines with edge interrupts for the ATX scenario (no gpio-sim in Debian's kernels).
cp -r "$HERE/gpio-module" "$WORK/gpio-module"
build_module "$WORK/gpio-module" kv_vm_gpio "fix tests/vm/gpio-module for this kernel"
"$BB" depmod -b "$WORK/kernel" "$KVER"

step "guest root: busybox, modules, tools"
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,run,etc,lib64,lib/modules/$KVER}
cp "$GUEST_BB" "$ROOT/bin/busybox"
cp "$BB" "$OUT/busybox"
for m in $MODULES; do
  # modules.dep lines: "kernel/path/name.ko.xz: dep.ko.xz ..."; names match with - and _ alike.
  line=$(awk -F: -v want="${m//-/_}" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
                                        if (n == want) { print; exit } }' "$MODTREE/modules.dep")
  [ -n "$line" ] || die "module $m is not in $KVER (MODULES in base.sh)"
  for f in ${line/:/}; do
    mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$f")"
    cp "$MODTREE/$f" "$ROOT/lib/modules/$KVER/$f"
  done
done
cp "$MODTREE"/modules.builtin* "$MODTREE/modules.order" "$ROOT/lib/modules/$KVER/"
# Debian ships modules xz-compressed. busybox's modprobe hands the file to finit_module()
# as it is, and only when the kernel refuses it loads the decompressed copy; 6.12 logs
# "Invalid ELF header magic" on the console for every refusal. Stored uncompressed (the
# cpio is gzipped anyway), every load is one call and the console stays quiet.
find "$ROOT/lib/modules" -name '*.ko.xz' -exec "$BB" unxz {} +
"$BB" depmod -b "$ROOT" "$KVER"

# Dynamically linked tools with the shared libraries they need: their DT_NEEDED names,
# recursively, looked up in the multiarch library folders under LIBROOT, and their ELF
# interpreter. readelf reads any architecture's ELF, where ldd would have to run it.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
# LIBROOT/PATH with symlinks followed inside LIBROOT: an extracted package's absolute
# links (libc6:amd64's /lib64/ld-linux-x86-64.so.2) must not lead to the host's files.
inside() { # LIBROOT PATH
  local path=$2 link hops=0
  while [ -L "$1$path" ] && [ $((hops += 1)) -lt 20 ]; do
    link=$(readlink "$1$path")
    case $link in /*) path=$link ;; *) path=$(dirname "$path")/$link ;; esac
  done
  echo "$1$path"
}
copy_program() { # SOURCE DEST LIBROOT
  local src=$1 dest=$2 libroot=$3 interp todo lib found dir
  mkdir -p "$ROOT$(dirname "$dest")"
  cp "$src" "$ROOT$dest"
  interp=$(readelf -l "$src" | sed -n 's/.*program interpreter: \(.*\)\]$/\1/p')
  if [ -n "$interp" ] && [ ! -e "$ROOT$interp" ]; then
    found=$(inside "$libroot" "$interp")
    [ -f "$found" ] || die "$src: its interpreter $interp is not under $libroot"
    mkdir -p "$ROOT$(dirname "$interp")"
    cp "$found" "$ROOT$interp"
  fi
  todo=$(needed "$src")
  while [ -n "$todo" ]; do
    set -- $todo
    lib=$1
    shift
    todo=$*
    [ -e "$ROOT/usr/lib/$MULTIARCH/$lib" ] && continue
    found=""
    for dir in /lib/$MULTIARCH /usr/lib/$MULTIARCH; do
      found=$(inside "$libroot" "$dir/$lib")
      [ -f "$found" ] && break
      found=""
    done
    [ -n "$found" ] || die "$src needs $lib, which is not under $libroot/{,usr/}lib/$MULTIARCH"
    mkdir -p "$ROOT/usr/lib/$MULTIARCH"
    cp "$found" "$ROOT/usr/lib/$MULTIARCH/$lib"
    todo=$(echo $todo $(needed "$found"))
  done
}
copy_program "$WORK/v4l/usr/bin/v4l2-ctl" /usr/bin/v4l2-ctl "$WORK/v4l"
if [ "$HOST_ARCH" = "$DEB_ARCH" ]; then
  # iproute2 for network namespaces (busybox's ip has no netns), when the host has it.
  if [ -x /usr/sbin/ip ]; then copy_program /usr/sbin/ip /usr/bin/ip.iproute2 /; fi
  # dnsmasq for kv --ethernet's DHCP. It drops root for the user nobody (and Debian's build
  # for the group dip), so the guest needs them in /etc/passwd and /etc/group.
  copy_program /usr/sbin/dnsmasq /usr/sbin/dnsmasq /
fi
# An ARM guest has neither: they are the host's programs. Scenarios that need them say
# `# vm-archs: x86_64`.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\ndip:x:30:\nnogroup:x:65534:\n' > "$ROOT/etc/group"

(cd "$ROOT" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 > "$OUT/base.cpio.gz")
{
  echo "arch $VM_ARCH"
  echo "kernel $KVER ($KDEBV)"
  echo "qemu $(dpkg-deb -f "$(deb "${QEMU_PACKAGES%% *}")" Version)"
  echo "v4l2loopback $(dpkg-deb -f "$(deb v4l2loopback-dkms)" Version) ($patched)"
  echo "modules $(find "$ROOT/lib/modules" -name '*.ko*' | wc -l)"
  if [ -e "$ROOT/usr/sbin/dnsmasq" ]; then
    echo "dnsmasq $(dpkg-query -W -f='${Version}' dnsmasq-base)"
  else
    echo "no ip.iproute2 or dnsmasq (host programs)"
  fi
} > "$OUT/versions"
rm -rf "$WORK"
step "base ready: $OUT ($(du -sh "$OUT" | cut -f1))"
