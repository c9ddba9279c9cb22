# Shared by scripts/setup, scripts/lane and scripts/test: where things live.
# shellcheck shell=bash
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything installed for tests and the demo lives here, reused between runs.
CACHE=${BOBBY_CACHE:-$HOME/.cache/bobby-camera}
export BOBBY_MODEL_DIR=${BOBBY_MODEL_DIR:-$CACHE/models}
SID_ROOT=$CACHE/sid-root
SID_VENV=/opt/venv-ha2026        # inside the sid root
SID_REPO=/src/bobby-camera       # where the repo is bind-mounted inside the sid root

# Home Assistant lanes: the pytest-homeassistant-custom-component release that pins each.
PHCC_HA2025=0.13.236   # Home Assistant 2025.4.4, newest on Python 3.13.0
PHCC_HA2026=0.13.375   # Home Assistant 2026.10.4, Python 3.14 (Debian sid root)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The Python of a given minor version: PATH first, then pyenv's versions folder.
find_python() {
  local want=$1 candidate
  for candidate in "python$want" /root/.pyenv/versions/"$want".*/bin/python"$want" /usr/bin/python"$want"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"; return 0
    fi
  done
  echo "no python$want found: install it (pyenv install $want) or adjust scripts/common.sh" >&2
  return 1
}

venv_dir() { echo "$CACHE/venv-$1"; }

# Run a command inside the sid root, with the repo at $SID_REPO. A private mount namespace
# makes the bind mounts disappear with the command, even if it is killed.
in_sid() {
  unshare --mount --propagation private bash -c '
    set -e
    root=$1; repo=$2; target=$3; shift 3
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root$target" "$root/tmp"
    mount --bind "$repo" "$root$target"
    cp /etc/resolv.conf /etc/hosts "$root/etc/"
    exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 "$@"
  ' in_sid "$SID_ROOT" "$REPO" "$SID_REPO" "$@"
}
