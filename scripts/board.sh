# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared by scripts/install and scripts/uninstall (sourced, not run): where kv
# lives on a board, the --root option, the root check, and talking to systemd.
#
# --root DIR installs into DIR instead of / (a staging tree or a board's
# mounted SD card). Then systemctl is never called, and being root is only
# needed if DIR's owner requires it.

KV_BIN=/usr/local/bin/kv
KV_UNIT=/etc/systemd/system/kv.service
KV_UNIT_WANTS=/etc/systemd/system/multi-user.target.wants/kv.service
KV_ETC=/etc/kv
KV_ENV=/etc/kv/kv.env
KV_STATE=/var/lib/kv

ROOT=/
SCRIPT_NAME=$(basename "$0")

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# $ROOT joined with an absolute path, without a double slash.
at() { printf '%s%s' "${ROOT%/}" "$1"; }

# Refuses to touch the live system unless root; a staging --root is the user's business.
require_root() {
    if [ "$ROOT" = / ] && [ "$(id -u)" != 0 ]; then
        die "this changes /usr/local/bin and /etc on this machine: please run it as root (sudo $0 ...)"
    fi
}

# True when we may ask systemd to act: the live system, booted with systemd.
systemd_live() {
    [ "$ROOT" = / ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}
