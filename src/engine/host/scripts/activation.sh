#!/bin/sh
# The deployer's side of an activation under magic rollback: starts the supervisor (watchdog.sh),
# reads its state, confirms, asks for the rollback, lists undecided activations, tails the log.
# Run as `sh -c ACTIVATION nix-deploy-ACTION ACTION ARGS...`; ACTION and its arguments:
#   launch WATCHDOG INSTALL_BOOTLOADER PROFILE NEW GOAL NONCE TIMEOUT PREVIOUS PREVIOUS_GENERATION \
#       ACTIVATION_TIMEOUT TARGET_GENERATION [HEALTH UNIT...]
#     Makes RUN/NONCE (0700) with the FIFOs `wake` and `events` and launcher.pid, starts WATCHDOG (the text of
#     watchdog.sh) with the arguments from PROFILE on, detached: as the systemd-run unit
#     nix-deploy-NONCE.service where systemd runs (its name in RUN/NONCE/unit), else under setsid
#     (whose pid it writes to supervisor.pid). INSTALL_BOOTLOADER non-empty: the activation runs
#     with NIXOS_INSTALL_BOOTLOADER=1. Prints `supervisor=systemd-run|setsid`, waits up to
#     ACTIVATION_TIMEOUT seconds for the activation's exit status, then prints the state (below).
#     If it stops before the supervisor started, it writes `not-started` to RUN/NONCE/result and
#     prints no `supervisor=` line.
#     With HEALTH (the text of health.sh), once the activation succeeded: a line `@@health`, then
#     what HEALTH prints for the UNITs, so that the health check costs no round trip of its own.
#   status NONCE PROFILE             prints the state
#   confirm NONCE PROFILE            writes NONCE to RUN/NONCE/confirm, wakes the supervisor, waits
#                                    up to 10 s for its verdict, prints the state; exit 3 if RUN/NONCE
#                                    does not exist
#   request-rollback NONCE PROFILE REASON
#                                    writes REASON to RUN/NONCE/rollback-request, wakes the
#                                    supervisor, waits up to 120 s for its verdict, prints the state
#   pending [PROFILE]                prints `pending=NONCE` for each activation without a verdict
#                                    whose supervisor or launcher runs (or that is under a minute
#                                    old without a launcher pid yet), removes the directory of one
#                                    that never will get one and prints `pruned=NONCE`, removes
#                                    decided ones older than a day. With PROFILE (the probe before a
#                                    deployment), then `current=` and `profile=` as in the state and
#                                    the resource sections of health.sh (@@meminfo, @@disk, @@load,
#                                    @@cpus): the rollback point and the baseline in one round trip
#   log NONCE LINES                  prints the last LINES lines of the activation's log
# The state, one `key=value` a line (src/engine/host/protocol.ts parses it):
#   supervisor-process=running|gone|unknown   read first: a supervisor seen gone has written all it
#                                             will; unknown until it wrote its pid
#   activation-status=N, result=confirmed|rolled-back|not-started, rollback-reason=TEXT (newlines as
#   spaces, at most 1000 bytes): the files of the same names, when they exist
#   current=STORE-PATH (/run/current-system), profile=LINK (what PROFILE points at: system-12-link)
# Environment: NIX_DEPLOY_RUN_DIR moves RUN (default /run/nix-deploy; only tests set it).
# Exit status: 0, except launch when it could not start the supervisor and confirm (3, above).
#
# Every action is one round trip: waiting happens here, on the host, not in a poll from the deployer.
# Under systemd-run the supervisor is a transient unit, which gets the service manager's environment
# (whose PATH on NixOS holds neither Nix nor coreutils), not this session's: what the supervisor and
# switch-to-configuration need is passed explicitly, as nixos-rebuild does.
action=$1
shift
root=${NIX_DEPLOY_RUN_DIR:-/run/nix-deploy}

# `runs DIR FILE`: the process whose pid DIR/FILE holds runs and belongs to that activation: its
# command line names the nonce, which is DIR's name (a pid alone may have been reused).
runs() {
  pid=$(cat "$1/$2" 2> /dev/null) || return 1
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  tr '\0' '\n' < "/proc/$pid/cmdline" 2> /dev/null | grep -qxF "${1##*/}"
}

# running, gone or unknown. A supervisor under systemd-run writes its pid itself: until it has, its
# unit tells whether it is still starting or already over (it died before its first line).
supervisor_process() {
  if [ -s "$dir/supervisor.pid" ]; then
    if runs "$dir" supervisor.pid; then echo running; else echo gone; fi
  elif [ -s "$dir/unit" ]; then
    case $(systemctl is-active "$(cat "$dir/unit")" 2> /dev/null) in
      inactive | failed) echo gone ;;
      *) echo unknown ;;
    esac
  else
    echo unknown
  fi
}

# Wakes the supervisor after a request. Opened read-write, a FIFO never blocks, also when nobody
# reads it any more.
wake() { [ -p "$dir/wake" ] && echo request 1<> "$dir/wake"; }

report() {
  echo "supervisor-process=$(supervisor_process)"
  for f in activation-status result rollback-reason; do
    [ -f "$dir/$f" ] && printf '%s=%s\n' "$f" "$(head -c 1000 "$dir/$f" | tr '\n' ' ')"
  done
  echo "current=$(readlink /run/current-system)"
  echo "profile=$(readlink "$profile")"
}

# /proc/uptime is `SECONDS.HH ...`: hundredths as one integer (the leading 1 keeps `08` decimal).
now() { read -r up _ < /proc/uptime; now=$((${up%.*} * 100 + 1${up#*.} - 100)); }

# `wait_for FILE SECONDS`: until the supervisor wrote FILE, it is gone, or SECONDS passed. The
# supervisor names each file it writes on the FIFO `events`, which wakes this wait at once; a ticker
# wakes it once a second to check the clock and whether the supervisor still runs. The FIFO is
# opened before the first check, so that an event written in between waits in it.
wait_for() {
  [ ! -f "$dir/$1" ] || return 0
  # A directory made without the FIFO gets one: then only the ticker wakes the wait.
  [ -p "$dir/events" ] || mkfifo -m 0600 "$dir/events" 2> /dev/null || return 0
  exec 4<> "$dir/events"
  now
  until=$((now + $2 * 100))
  # The ticker ends with this shell: `kill -0` on its parent fails once the parent is gone. It holds
  # none of the session's descriptors, or its last `sleep` would keep the ssh session open.
  { while kill -0 "$$" 2> /dev/null; do sleep 1; echo tick; done; } < /dev/null >&4 2> /dev/null &
  ticker=$!
  while [ ! -f "$dir/$1" ]; do
    now
    [ "$now" -lt "$until" ] || break
    read -r event <&4
    # A supervisor that is gone will write nothing more.
    if [ "$event" = tick ] && [ "$(supervisor_process)" = gone ]; then break; fi
  done
  kill "$ticker" 2> /dev/null
  exec 4<&-
}

launch() {
  set -e
  watchdog=$1 install_bootloader=$2
  shift 2
  profile=$1 nonce=$4 activation_timeout=$8 health=${10:-}
  dir=$root/$nonce
  mkdir -p "$root"
  chmod 0700 "$root"
  mkdir -m 0700 "$dir"
  echo "$$" > "$dir/launcher.pid"
  started=
  trap '[ -n "$started" ] || echo not-started > "$dir/result"' EXIT
  trap 'exit 129' HUP
  trap 'exit 143' TERM
  mkfifo -m 0600 "$dir/wake" "$dir/events"
  if [ -n "$install_bootloader" ]; then export NIXOS_INSTALL_BOOTLOADER=1; else unset NIXOS_INSTALL_BOOTLOADER; fi
  if [ -d /run/systemd/system ] && command -v systemd-run > /dev/null; then
    systemd-run --unit="nix-deploy-$nonce" --collect --no-ask-password --quiet --service-type=exec \
      --setenv=PATH="$PATH" \
      ${LOCALE_ARCHIVE:+"--setenv=LOCALE_ARCHIVE=$LOCALE_ARCHIVE"} \
      ${NIXOS_INSTALL_BOOTLOADER:+--setenv=NIXOS_INSTALL_BOOTLOADER=1} \
      ${NIX_DEPLOY_RUN_DIR:+"--setenv=NIX_DEPLOY_RUN_DIR=$NIX_DEPLOY_RUN_DIR"} \
      -- sh -c "$watchdog" nix-deploy-watchdog "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9"
    started=1
    echo "nix-deploy-$nonce.service" > "$dir/unit" || :
    echo supervisor=systemd-run
  else
    setsid sh -c "$watchdog" nix-deploy-watchdog "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" \
      < /dev/null > "$dir/supervisor.log" 2>&1 &
    started=1
    echo "$!" > "$dir/supervisor.pid"
    echo supervisor=setsid
  fi
  set +e
  wait_for activation-status "$activation_timeout"
  report
  if [ -n "$health" ] && [ "$(cat "$dir/activation-status" 2> /dev/null)" = 0 ]; then
    shift 10
    echo "@@health"
    sh -c "$health" nix-deploy-health "$@"
  fi
}

pending() {
  cd "$root" 2> /dev/null && for d in *; do
    [ -d "$d" ] || continue
    if runs "$d" supervisor.pid; then
      [ -f "$d/result" ] || echo "pending=$d"
    elif [ -f "$d/result" ]; then
      [ -z "$(find "./$d" -maxdepth 0 -mmin +1440)" ] || rm -rf -- "$d"
    elif runs "$d" launcher.pid || { [ ! -f "$d/launcher.pid" ] && [ -z "$(find "./$d" -maxdepth 0 -mmin +1)" ]; }; then
      echo "pending=$d"
    else
      rm -rf -- "$d" && echo "pruned=$d"
    fi
  done
  [ -z "$1" ] || probe "$1"
}

# The rollback point and the resource baseline, after `pending`.
probe() {
  echo "current=$(readlink /run/current-system)"
  echo "profile=$(readlink "$1")"
  echo "@@meminfo"; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
  echo "@@disk"; df -Pk /nix 2> /dev/null | tail -n 1
  echo "@@load"; cat /proc/loadavg
  echo "@@cpus"; nproc 2> /dev/null || getconf _NPROCESSORS_ONLN
}

case $action in
  launch) launch "$@" ;;
  status)
    nonce=$1 profile=$2 dir=$root/$1
    report
    ;;
  confirm)
    nonce=$1 profile=$2 dir=$root/$1
    [ -d "$dir" ] || exit 3
    printf '%s' "$nonce" > "$dir/confirm"
    wake
    wait_for result 10
    report
    ;;
  request-rollback)
    nonce=$1 profile=$2 dir=$root/$1
    printf '%s' "$3" > "$dir/rollback-request"
    wake
    wait_for result 120
    report
    ;;
  pending) pending "${1:-}" ;;
  log) tail -n "$2" "$root/$1/activation.log" 2> /dev/null ;;
  *)
    echo "activation.sh: unknown action '$action' (launch, status, confirm, request-rollback, pending, log)" >&2
    exit 2
    ;;
esac
exit 0
