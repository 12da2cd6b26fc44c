#!/bin/bash
# Builds everything the test VM needs that does not depend on kv's source, from
# Debian packages only, into one cache folder:
#
#   OUT/qemu/          qemu-system-x86 and its firmware, extracted (never installed)
#   OUT/vmlinux        the ELF kernel (booted through its PVH entry: no BIOS real mode,
#                      no in-guest decompression, ~3 s faster under TCG)
#   OUT/busybox        static busybox, also used on the host to pack the per-run cpio
#   OUT/base.cpio.gz   busybox, the kernel modules the scenarios use (with their
#                      modules.dep closure), v4l2-ctl, ip, dnsmasq, the patched
#                      v4l2loopback.ko and kv_vm_crash.ko (crash-module/: kernel
#                      failures on request for the harness's self-test)
#
# Usage: base.sh KERNEL_ABI OUT      (called by tests/vm/run; KERNEL_ABI e.g. 6.1.0-56-amd64)
# Only QEMU's shared libraries and dnsmasq-base (the binary alone, no service; it is
# copied into the guest with the libraries ldd finds) are installed system-wide (apt-get
# install): installing qemu-system-x86 itself would replace the qemu-utils this image ships.
set -euo pipefail

KVER=$1
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
DEBS=$(dirname "$OUT")/debs
WORK=$OUT.work

# Kernel modules the scenarios may load; their dependencies come from modules.dep.
MODULES="vivid v4l2loopback
 dummy_hcd libcomposite usb_f_hid usb_f_mass_storage usb_f_ecm usb_f_ncm usb_f_rndis
 usbhid hid_generic evdev usb_storage sd_mod sr_mod cdrom cdc_ether cdc_ncm rndis_host
 loop vfat nls_cp437 nls_ascii nls_utf8
 kv_vm_crash"
QEMU_RUNTIME_LIBS="libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2"
HOST_PROGRAMS="dnsmasq-base"

step() { echo "[vm-base $(date +%T)] $*" >&2; }

missing_libs=""
for p in $QEMU_RUNTIME_LIBS $HOST_PROGRAMS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing_libs="$missing_libs $p"
done
if [ -n "$missing_libs" ]; then
  step "apt-get install QEMU runtime libraries and tools:$missing_libs"
  if ! log=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing_libs 2>&1); then
    echo "$log" >&2
    echo "base.sh: could not install QEMU's libraries (needs root and apt)" >&2
    exit 1
  fi
fi

# The kernel image, headers and kbuild must be the same Debian version.
KPKG=linux-image-$KVER-unsigned
KDEBV=$(apt-cache show "$KPKG" | awk '/^Version:/ { print $2; exit }')
[ -n "$KDEBV" ] || { echo "base.sh: apt knows no $KPKG; run apt-get update" >&2; exit 1; }
KMAJ=${KVER%%.0-*}                      # 6.1
PACKAGES="qemu-system-x86 qemu-system-common qemu-system-data seabios ipxe-qemu
 $KPKG=$KDEBV linux-headers-$KVER=$KDEBV linux-headers-${KVER%-amd64}-common=$KDEBV
 linux-kbuild-$KMAJ=$KDEBV busybox-static v4l-utils libv4l-0 libv4lconvert0 v4l2loopback-dkms"

mkdir -p "$DEBS"
want=""
for p in $PACKAGES; do
  ls "$DEBS/${p%%=*}_"*.deb >/dev/null 2>&1 || want="$want $p"
done
if [ -n "$want" ]; then
  step "apt-get download:$want"
  (cd "$DEBS" && apt-get download -q $want 2>&1 | grep -v 'Download is performed unsandboxed' | tail -1) >&2
fi
deb() { ls "$DEBS/$1"_*.deb | head -1; }

step "extract packages"
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK"/{kernel,headers,busybox,v4l,v4l2loopback} "$OUT/qemu"
for p in qemu-system-x86 qemu-system-common qemu-system-data seabios ipxe-qemu; do
  dpkg -x "$(deb "$p")" "$OUT/qemu"
done
dpkg -x "$(deb "$KPKG")" "$WORK/kernel"
for p in linux-headers-$KVER linux-headers-${KVER%-amd64}-common linux-kbuild-$KMAJ; do
  dpkg -x "$(deb "$p")" "$WORK/headers"
done
dpkg -x "$(deb busybox-static)" "$WORK/busybox"
for p in v4l-utils libv4l-0 libv4lconvert0; do dpkg -x "$(deb "$p")" "$WORK/v4l"; done
dpkg -x "$(deb v4l2loopback-dkms)" "$WORK/v4l2loopback"
BB=$WORK/busybox/bin/busybox
KHDR=$WORK/headers/usr/src/linux-headers-$KVER
# The arch headers' Makefile includes the common tree by its absolute /usr/src path.
sed -i "s#/usr/src/#$WORK/headers/usr/src/#" "$KHDR/Makefile"

step "vmlinux from the bzImage's xz payload"
python3 - "$WORK/kernel/boot/vmlinuz-$KVER" "$OUT/vmlinux" <<'EOF'
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit(f"{sys.argv[1]}: no xz payload; cannot extract vmlinux")
elf = lzma.LZMADecompressor().decompress(data[start:])
if elf[:4] != b"\x7fELF":
    sys.exit(f"{sys.argv[1]}: xz payload is not an ELF kernel")
open(sys.argv[2], "wb").write(elf)
EOF

step "build v4l2loopback.ko (patched) against $KVER headers"
SRC=$(ls -d "$WORK"/v4l2loopback/usr/src/v4l2loopback-*)
for p in "$HERE"/v4l2loopback-*.patch; do patch -s -d "$SRC" -p1 < "$p"; done
make -s -C "$KHDR" M="$SRC" modules 2>&1 | grep -v 'Skipping BTF generation' >&2 || true
MODTREE=$WORK/kernel/lib/modules/$KVER
mkdir -p "$MODTREE/extra"
cp "$SRC/v4l2loopback.ko" "$MODTREE/extra/"
# The self-test's crash module (Debian builds no lkdtm), built the same way.
cp -r "$HERE/crash-module" "$WORK/crash-module"
make -s -C "$KHDR" M="$WORK/crash-module" modules 2>&1 | grep -v 'Skipping BTF generation' >&2 || true
cp "$WORK/crash-module/kv_vm_crash.ko" "$MODTREE/extra/"
"$BB" depmod -b "$WORK/kernel" "$KVER"

step "guest root: busybox, modules, tools"
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,run,etc,lib64,lib/modules/$KVER}
cp "$BB" "$ROOT/bin/busybox"
cp "$BB" "$OUT/busybox"
for m in $MODULES; do
  # modules.dep lines: "kernel/path/name.ko.xz: dep.ko.xz ..."; names match with - and _ alike.
  line=$(awk -F: -v want="${m//-/_}" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
                                        if (n == want) { print; exit } }' "$MODTREE/modules.dep")
  [ -n "$line" ] || { echo "base.sh: module $m is not in $KVER" >&2; exit 1; }
  for f in ${line/:/}; do
    mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$f")"
    cp "$MODTREE/$f" "$ROOT/lib/modules/$KVER/$f"
  done
done
cp "$MODTREE"/modules.builtin* "$MODTREE/modules.order" "$ROOT/lib/modules/$KVER/"
"$BB" depmod -b "$ROOT" "$KVER"

# Dynamically linked tools, with the shared libraries ldd resolves for them.
copy_program() { # SOURCE DEST [LD_LIBRARY_PATH]
  cp "$1" "$ROOT/$2"
  LD_LIBRARY_PATH=${3:-} ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/lib64\// { print $1 }' |
    while read -r lib; do
      dest=/usr/lib/x86_64-linux-gnu/$(basename "$lib")
      case $lib in /lib64/*) dest=$lib ;; esac
      [ -e "$ROOT$dest" ] || { mkdir -p "$ROOT$(dirname "$dest")"; cp -L "$lib" "$ROOT$dest"; }
    done
}
copy_program "$WORK/v4l/usr/bin/v4l2-ctl" /usr/bin/v4l2-ctl "$WORK/v4l/usr/lib/x86_64-linux-gnu"
# iproute2 for network namespaces (busybox's ip has no netns), when the host has it.
if [ -x /usr/sbin/ip ]; then copy_program /usr/sbin/ip /usr/bin/ip.iproute2; fi
# dnsmasq for kv --ethernet's DHCP. It drops root for the user nobody (and Debian's build
# for the group dip), so the guest needs them in /etc/passwd and /etc/group.
copy_program /usr/sbin/dnsmasq /usr/sbin/dnsmasq
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\ndip:x:30:\nnogroup:x:65534:\n' > "$ROOT/etc/group"

(cd "$ROOT" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 > "$OUT/base.cpio.gz")
{
  echo "kernel $KVER ($KDEBV)"
  echo "qemu $(dpkg-deb -f "$(deb qemu-system-x86)" Version)"
  echo "v4l2loopback $(dpkg-deb -f "$(deb v4l2loopback-dkms)" Version) (patched)"
  echo "modules $(find "$ROOT/lib/modules" -name '*.ko*' | wc -l)"
  echo "dnsmasq $(dpkg-query -W -f='${Version}' dnsmasq-base)"
} > "$OUT/versions"
rm -rf "$WORK"
step "base ready: $OUT ($(du -sh "$OUT" | cut -f1))"
