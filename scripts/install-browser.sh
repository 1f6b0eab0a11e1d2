#!/usr/bin/env bash
# Install Debian's Chromium and its WebDriver (chromium-driver) for the dashboard browser tests and
# bench, when missing. Never downloads a browser build of its own: Debian packages only.
# Runs `apt-get update` only if something has to be installed. Idempotent; prints nothing when all
# is present. Must run as root (or via sudo) when it has to install.
set -euo pipefail

log() { echo "install-browser: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

export DEBIAN_FRONTEND=noninteractive

todo=()
[[ -x /usr/bin/chromium ]] || todo+=(chromium)
[[ -x /usr/bin/chromedriver ]] || todo+=(chromium-driver)
# Text in screenshots needs at least one font; chromium pulls fonts-liberation only as a recommend.
compgen -G '/usr/share/fonts/truetype/*/*.ttf' >/dev/null || todo+=(fonts-liberation)

if ((${#todo[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    die "need root to install: ${todo[*]} (re-run as root or with sudo)"
fi
command -v apt-get >/dev/null || die "apt-get not found: install ${todo[*]} by hand"

log "installing: ${todo[*]}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Other jobs on the machine may hold the dpkg lock: wait for it instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=600)
if ! apt-get "${apt_opts[@]}" update -qq >"$out" 2>&1; then
    cat "$out" >&2; die "apt-get update failed"
fi
if ! apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${todo[@]}" >"$out" 2>&1; then
    tail -n 40 "$out" >&2; die "apt-get install failed: ${todo[*]}"
fi

[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium still missing"
[[ -x /usr/bin/chromedriver ]] || die "/usr/bin/chromedriver still missing"
log "done: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
