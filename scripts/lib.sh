# Functions for setup.sh (sourced; no side effects of its own): messages, root, apt with its
# lock, and the package install that demo.sh and test.sh share. tests/test_scripts.py sources
# it too, with a fake apt-get and a fake virtualenv.

# Seconds to wait for another apt run (unattended upgrades on a fresh cloud machine) to release
# the package lock, and how often to look; the lock files apt and dpkg take.
APT_WAIT="${TFY_LIVE_APT_WAIT:-300}"
APT_POLL="${TFY_LIVE_APT_POLL:-2}"
APT_LOCKS="${TFY_LIVE_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}"

# One line to standard error; dimmed only on a terminal, so a log or a pipe gets no escape codes.
say() {
    if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[2m[setup] %s\033[0m\n' "$*" >&2
    else printf '[setup] %s\n' "$*" >&2
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "need root to run: $*  (install sudo or run as root)"; return 1
    fi
}

# The processes that have a package lock open, as "1234 (unattended-upgr)", one per line. apt and
# dpkg hold the file open while they hold (or wait for) its lock. Reading other processes' file
# descriptors needs root; without it the list may be empty, and apt's own timeout still waits.
lock_holders() {
    local fd pid
    # shellcheck disable=SC2086  # the list of lock files is split on purpose
    for fd in $(as_root find /proc/[0-9]*/fd -maxdepth 1 \( $(printf -- '-lname %s -o ' $APT_LOCKS) -false \) \
            2>/dev/null); do
        pid="${fd#/proc/}"; pid="${pid%%/*}"
        [ "$pid" = "$$" ] && continue
        echo "$pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?'))"
    done | sort -u
}

# apt-get as root, non-interactive, waiting at most APT_WAIT seconds (in all) for another apt run
# to release the lock, and saying so in one line. apt waits by itself where it can (DPkg::Lock::Timeout,
# apt 1.9.11+, the dpkg lock); `apt-get update`'s lists lock it does not wait for, so a refusal that
# names a lock is tried again until the time is up.
apt_get() {
    local deadline=$((SECONDS + APT_WAIT)) said="" holders out status
    while :; do
        holders="$(lock_holders | paste -sd, -)"
        if [ -n "$holders" ] && [ -z "$said" ]; then
            say "waiting for another apt run to finish (holding the package lock: ${holders//,/, }), up to ${APT_WAIT} s"
            said=1
        fi
        status=0
        out="$(as_root env DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$((deadline - SECONDS > 0 ? deadline - SECONDS : 0))" "$@" 2>&1 >/dev/null)" || status=$?
        [ "$status" -eq 0 ] && return 0
        if [[ "$out" == *"Could not get lock"* || "$out" == *"Unable to lock"* || "$out" == *"Unable to acquire the dpkg frontend lock"* ]]; then
            if [ "$SECONDS" -lt "$deadline" ]; then
                [ -n "$said" ] || { say "waiting for another apt run to finish (it holds the package lock), up to ${APT_WAIT} s"; said=1; }
                sleep "$APT_POLL"
                continue
            fi
            say "another apt run still holds the package lock after ${APT_WAIT} s${holders:+ (${holders//,/, })}; let it finish (or set TFY_LIVE_APT_WAIT=SECONDS to wait longer) and run this again"
            return "$status"
        fi
        printf '%s\n' "$out" >&2  # apt's own words: a package that is not found, no network…
        return "$status"
    done
}

# Install tfy-live (editable) into the virtualenv VENV with EXTRAS, unless it is there already with
# them: demo.sh (no extras) and test.sh (test) share one environment, so running one after the other
# installs nothing. The stamp holds the hash of pyproject.toml and the extras installed; a changed
# pyproject.toml reinstalls, with every extra installed before.
install_package() {  # install_package ROOT VENV EXTRAS
    local root="$1" venv="$2" extras="$3" stamp="$2/.tfy-live-installed" hash had="" want
    hash="$(sha256sum < "$root/pyproject.toml" | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$hash" ]; then
        had="$(sed -n 2p "$stamp")"
        if [ -z "$extras" ] || [[ ",$had," == *",$extras,"* ]]; then
            return 0
        fi
    elif [ -f "$stamp" ]; then
        had="$(sed -n 2p "$stamp")"
    fi
    want="$(printf '%s\n' ${had//,/ } $extras | sort -u | paste -sd, -)"
    say "installing tfy-live${want:+[$want]} and its Python packages into $venv (pip; a minute the first time)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root${want:+[$want]}"
    printf '%s\n%s\n' "$hash" "$want" > "$stamp"
}
