# Shared by scripts/setup, scripts/lane, scripts/test and scripts/run: where things live.
# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts that source it
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything installed for tests and the demo lives here, reused between runs.
CACHE=${BOBBY_CACHE:-$HOME/.cache/bobby-camera}
export BOBBY_MODEL_DIR=${BOBBY_MODEL_DIR:-$CACHE/models}

# Home Assistant lanes: the pytest-homeassistant-custom-component release that pins each.
PHCC_HA2025=0.13.236   # Home Assistant 2025.4.4, newest on Python 3.13.0
PHCC_HA2026=0.13.375   # Home Assistant 2026.10.4, Python ≥ 3.14.2
HA2026_MIN_PYTHON=3.14.2
# The integration's one requirement (manifest: av>=13.1.0) at the version each Home
# Assistant installs it under its own homeassistant/package_constraints.txt.
AV_HA2025=13.1.0
AV_HA2026=19.0.0

# uv makes and fills every venv, with the Pythons already on the machine (it never
# downloads one). Installed by scripts/setup into the cache with the machine's pip.
UV_VERSION=0.13.9
UV=$CACHE/uv-$UV_VERSION/bin/uv
export UV_CACHE_DIR=${UV_CACHE_DIR:-$CACHE/uv-cache}  # shareable between caches (helpers, worktrees)
export UV_PYTHON_DOWNLOADS=never
export UV_NATIVE_TLS=1   # trust the system's CA store, like pip (it may hold a proxy's CA)
# Bytecode compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines), every
# Python start would compile Home Assistant again from source (10 s of CPU per `hass` start).
export UV_COMPILE_BYTECODE=1

# Without a Python ≥ 3.14.2 on PATH, Home Assistant 2026 runs in a Debian sid root.
SID_ROOT=$CACHE/sid-root
SID_VENV=/opt/venv-ha2026        # inside the sid root
SID_REPO=/src/bobby-camera       # where the repo is bind-mounted inside the sid root
SID_CACHE=/cache                 # where $CACHE is bind-mounted inside the sid root

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# find_python VERSION [MINIMUM]: the real executable of a Python VERSION (e.g. 3.13), at
# least MINIMUM (e.g. 3.14.2): PATH first, then pyenv's versions folder. Asking the
# interpreter for sys.executable resolves pyenv's shims, which work only in some folders.
find_python() {
  local want=$1 minimum=${2:-$1} candidate found
  local check="import sys
v = tuple(map(int, '$minimum'.split('.')))
ok = '%d.%d' % sys.version_info[:2] == '$want' and sys.version_info[:len(v)] >= v
print(sys.executable) if ok else sys.exit(1)"
  for candidate in "python$want" /root/.pyenv/versions/"$want".*/bin/python"$want" /usr/bin/python"$want"; do
    if command -v "$candidate" >/dev/null 2>&1 && found=$("$candidate" -c "$check" 2>/dev/null); then
      echo "$found"; return 0
    fi
  done
  echo "no python$want (≥ $minimum) found: install it (pyenv install $want) or adjust scripts/common.sh" >&2
  return 1
}

venv_dir() { echo "$CACHE/venv-$1"; }

# The Python for Home Assistant 2026 on this machine, or nothing (then: the sid root).
# BOBBY_HA2026=sid forces the sid root.
ha2026_host_python() {
  [[ ${BOBBY_HA2026:-} == sid ]] && return 0
  find_python 3.14 "$HA2026_MIN_PYTHON" 2>/dev/null || true
}
HA2026_PYTHON=${HA2026_PYTHON-$(ha2026_host_python)}
# The HA 2026 venv and the cache, as the HA 2026 python sees them.
if [[ -n $HA2026_PYTHON ]]; then
  HA2026_VENV=$(venv_dir py314-ha2026) HA2026_CACHE=$CACHE
else
  HA2026_VENV=$SID_VENV HA2026_CACHE=$SID_CACHE
fi

# in_ha2026 [NAME=VALUE...] ARGS...: the HA 2026 venv's python with ARGS, run in the
# checkout, on this machine or in the sid root; NAME=VALUE pairs set variables.
in_ha2026() {
  local vars=()
  while [[ ${1:-} == *=* ]]; do vars+=("$1"); shift; done
  if [[ -n $HA2026_PYTHON ]]; then
    (cd "$REPO" && exec env "${vars[@]}" "$HA2026_VENV/bin/python" "$@")
  else
    in_sid "${vars[@]}" bash -c 'cd "$0" && exec "$1"/bin/python "${@:2}"' "$SID_REPO" "$SID_VENV" "$@"
  fi
}

# in_sid [NAME=VALUE...] COMMAND...: run a command inside the sid root, with the repo at
# $SID_REPO and the cache at $SID_CACHE. A private mount namespace makes the bind mounts
# disappear with the command, even if it is killed. Needs root.
in_sid() {
  unshare --mount --propagation private bash -c '
    set -e
    root=$1; repo=$2; target=$3; cache=$4; cache_target=$5; shift 5
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mkdir -p "$root$target" "$root$cache_target" "$root/tmp"
    mount --bind "$repo" "$root$target"
    mount --bind "$cache" "$root$cache_target"
    cp /etc/resolv.conf /etc/hosts "$root/etc/"
    exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
      BOBBY_CACHE="$cache_target" BOBBY_MODEL_DIR="$cache_target/models" \
      UV_CACHE_DIR="$cache_target/uv-cache" UV_PYTHON_DOWNLOADS=never UV_NATIVE_TLS=1 UV_COMPILE_BYTECODE=1 \
      UV_LINK_MODE=copy "$@"
  ' in_sid "$SID_ROOT" "$REPO" "$SID_REPO" "$CACHE" "$SID_CACHE" "$@"
}
