#!/bin/sh
# The deployer's side of an activation under magic rollback: starts the supervisor (watchdog.sh),
# reads its state, confirms, asks for the rollback, lists undecided activations, tails the log.
# Run as `sh -c ACTIVATION nix-deploy-ACTION ACTION ARGS...`; ACTION and its arguments:
#   launch WATCHDOG INSTALL_BOOTLOADER PROFILE NEW GOAL NONCE TIMEOUT PREVIOUS PREVIOUS_GENERATION \
#       ACTIVATION_TIMEOUT TARGET_GENERATION [CHANGES [HEALTH UNIT...]]
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
#     With CHANGES (the text of changes.sh), it compares PREVIOUS and NEW while the activation runs
#     and, if that has finished by the end, prints a line `@@changes` and what CHANGES printed (it
#     never waits for it: the confirmation window is running; `confirm ... changes` brings it later).
#   status NONCE PROFILE             prints the state
#   confirm NONCE PROFILE [changes]  writes NONCE to RUN/NONCE/confirm, wakes the supervisor, waits
#                                    up to 10 s for its verdict, prints the state; exit 3 if RUN/NONCE
#                                    does not exist. With `changes`, then waits up to 60 s for the
#                                    launch's comparison of the systems and prints it as launch does
#   request-rollback NONCE PROFILE REASON
#                                    writes REASON to RUN/NONCE/rollback-request, wakes the
#                                    supervisor, waits up to 120 s for its verdict, prints the state
#   pending [PROFILE [HEALTH]]       prints `pending=NONCE` for each activation without a verdict
#                                    whose supervisor or launcher runs (or that is under a minute
#                                    old without a launcher pid yet), removes the directory of one
#                                    that never will get one and prints `pruned=NONCE`, removes
#                                    decided ones older than a day. With PROFILE (the probe before a
#                                    deployment), then `current=` and `profile=` as in the state, and
#                                    with HEALTH (the text of health.sh) its resource sections
#                                    (@@meminfo, @@disk, @@load, @@cpus): the rollback point and the
#                                    baseline in one round trip
#   log NONCE LINES                  prints the last LINES lines of the activation's log
#   session LAUNCH-ARGS...           the probe and the launch in one session (one ssh channel and one
#                                    shell fewer per host): LAUNCH-ARGS are launch's, with NEW,
#                                    PREVIOUS and PREVIOUS_GENERATION empty. Runs `pending PROFILE
#                                    HEALTH`; if that lists an undecided activation, stops there (the
#                                    deployer waits for it and launches on its own). Else prints
#                                    `@@ready` and reads lines from stdin until one is `NONCE NEW
#                                    PREVIOUS PREVIOUS_GENERATION` (`-` for none), then launches with
#                                    them; any other line is skipped unseen (sudo -S may leave its
#                                    password line unread), and the end of the input ends the session
#                                    with nothing started (the host needed no activation)
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

# Each read below is the shell's own `read`, not `cat` or `head` in a subshell: every process costs
# the host CPU, and a deployment asks these questions several times per host.
nl='
'

# `runs DIR FILE`: the process whose pid DIR/FILE holds runs and belongs to that activation: its
# command line names the nonce, which is DIR's name (a pid alone may have been reused).
runs() {
  pid=
  read -r pid 2> /dev/null < "$1/$2"
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  [ -e "/proc/$pid" ] || return 1
  if [ -n "${BASH_VERSION:-}" ]; then
    # bash reads the NUL-separated words itself: no grep.
    # shellcheck disable=SC3045
    while IFS= read -r -d '' word; do [ "$word" != "${1##*/}" ] || return 0; done 2> /dev/null < "/proc/$pid/cmdline"
    return 1
  fi
  grep -qxzF -e "${1##*/}" "/proc/$pid/cmdline" 2> /dev/null
}

# Sets `process` to running, gone or unknown. A supervisor under systemd-run writes its pid itself:
# until it has, its unit tells whether it is still starting or already over (it died before its
# first line).
supervisor_process() {
  process=unknown
  if [ -s "$dir/supervisor.pid" ]; then
    if runs "$dir" supervisor.pid; then process=running; else process=gone; fi
  elif [ -s "$dir/unit" ]; then
    read -r unit 2> /dev/null < "$dir/unit"
    case $(systemctl is-active "$unit" 2> /dev/null) in
      inactive | failed) process=gone ;;
    esac
  fi
}

# Wakes the supervisor after a request. Opened read-write, a FIFO never blocks, also when nobody
# reads it any more.
wake() { [ -p "$dir/wake" ] && echo request 1<> "$dir/wake"; }

# `text FILE`: FILE's content in `text`, newlines as spaces, at most 1000 bytes.
text() {
  text=
  while IFS= read -r l || [ -n "$l" ]; do text="$text$l "; done 2> /dev/null < "$1"
  [ "${#text}" -le 1000 ] || text=$(head -c 1000 "$1" | tr '\n' ' ')
}

# `links PROFILE`: `current` (what /run/current-system points at) and `link` (what PROFILE points
# at), from one readlink where both exist.
links() {
  if both=$(readlink /run/current-system "$1" 2> /dev/null); then
    current=${both%%"$nl"*} link=${both#*"$nl"}
  else
    current=$(readlink /run/current-system) link=$(readlink "$1")
  fi
}

report() {
  supervisor_process
  echo "supervisor-process=$process"
  for f in activation-status result rollback-reason; do
    [ -f "$dir/$f" ] && text "$dir/$f" && printf '%s=%s\n' "$f" "$text"
  done
  links "$profile"
  echo "current=$current"
  echo "profile=$link"
}

# /proc/uptime is `SECONDS.HH ...`: hundredths as one integer (the leading 1 keeps `08` decimal).
now() { read -r up _ < /proc/uptime; now=$((${up%.*} * 100 + 1${up#*.} - 100)); }

# `wait_for FILE SECONDS [PIDFILE]`: until the supervisor wrote FILE, it is gone, or SECONDS passed.
# The supervisor names each file it writes on the FIFO `events`, which wakes this wait at once; a
# ticker wakes it once a second to check the clock and whether the supervisor still runs. The FIFO is
# opened before the first check, so that an event written in between waits in it. With PIDFILE, the
# writer watched is the process whose pid it holds (the comparison of the systems), not the supervisor.
wait_for() {
  [ ! -f "$dir/$1" ] || return 0
  # A directory made without the FIFO gets one: then only the ticker wakes the wait.
  [ -p "$dir/events" ] || mkfifo -m 0600 "$dir/events" 2> /dev/null || return 0
  exec 4<> "$dir/events"
  now
  until=$((now + $2 * 100))
  # bash (the sh of NixOS) times a read out by itself: there no ticker process is needed. Elsewhere
  # the ticker ends with this shell: `kill -0` on its parent fails once the parent is gone. It holds
  # none of the session's descriptors, or its last `sleep` would keep the ssh session open.
  ticker=
  if [ -z "${BASH_VERSION:-}" ]; then
    { while kill -0 "$$" 2> /dev/null; do sleep 1; echo tick; done; } < /dev/null >&4 2> /dev/null &
    ticker=$!
  fi
  while [ ! -f "$dir/$1" ]; do
    now
    [ "$now" -lt "$until" ] || break
    if [ -n "$ticker" ]; then read -r event <&4; else timed_read; fi
    # A writer that is gone will write nothing more.
    if [ "$event" = tick ]; then
      if [ -n "${3:-}" ]; then
        pid=
        read -r pid 2> /dev/null < "$dir/$3"
        if [ -z "$pid" ] || [ ! -e "/proc/$pid" ]; then break; fi
      else
        supervisor_process
        [ "$process" != gone ] || break
      fi
    fi
  done
  [ -z "$ticker" ] || kill "$ticker" 2> /dev/null
  exec 4<&-
}

# `run_script TEXT ARGS...`: another host script (health.sh, changes.sh), given as its text, with
# ARGS as its positional parameters, in a subshell of this one: a fork, not a new shell started
# (bash, the sh of NixOS, costs a few milliseconds of CPU to start).
run_script() {
  (
    script=$1
    shift
    eval "$script"
  )
}

# A line from the FIFO, or `tick` after a second without one (bash only: see wait_for).
# shellcheck disable=SC3045
timed_read() { read -r -t 1 event <&4 || event=tick; }

launch() {
  set -e
  watchdog=$1 install_bootloader=$2
  shift 2
  profile=$1 nonce=$4 activation_timeout=$8 changes=${10:-} health=${11:-}
  dir=$root/$nonce
  # RUN exists after the first activation: one mkdir then.
  mkdir -m 0700 "$dir" 2> /dev/null || { mkdir -p "$root" && chmod 0700 "$root" && mkdir -m 0700 "$dir"; }
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
  if [ -n "$changes" ]; then
    # Beside the activation, in a subshell that holds none of this session's descriptors and runs
    # CHANGES itself (its `exit` ends the subshell, whose EXIT trap writes changes.done, which says
    # it ended; `events` tells a confirmation waiting for it).
    {
      trap ': > "$dir/changes.done"; [ ! -p "$dir/events" ] || echo changes.done 1<> "$dir/events"' EXIT
      set -- "$6" "$2"
      eval "$changes"
    } < /dev/null > "$dir/changes" 2>&1 &
    echo "$!" > "$dir/changes.pid"
  fi
  wait_for activation-status "$activation_timeout"
  report
  status=
  read -r status 2> /dev/null < "$dir/activation-status"
  if [ -n "$health" ] && [ "$status" = 0 ]; then
    shift 11
    echo "@@health"
    run_script "$health" "$@"
  fi
  # Not waited for: the confirmation window runs; the confirmation brings them when they are late.
  print_changes
}

# A line `@@changes` and what changes.sh printed, once it has ended.
print_changes() {
  if [ -f "$dir/changes.done" ]; then
    echo "@@changes"
    while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$dir/changes"
  fi
}

pending() {
  old=unread waiting=
  cd "$root" 2> /dev/null && for d in *; do
    [ -d "$d" ] || continue
    if runs "$d" supervisor.pid; then
      [ -f "$d/result" ] || { echo "pending=$d" && waiting=1; }
    elif [ -f "$d/result" ]; then
      # The directories older than a day, listed once for all of them.
      [ "$old" != unread ] || old=$(find . -mindepth 1 -maxdepth 1 -mmin +1440)
      case "$nl$old$nl" in *"$nl./$d$nl"*) rm -rf -- "$d" ;; esac
    elif runs "$d" launcher.pid || { [ ! -f "$d/launcher.pid" ] && [ -z "$(find "./$d" -maxdepth 0 -mmin +1)" ]; }; then
      echo "pending=$d" && waiting=1
    else
      rm -rf -- "$d" && echo "pruned=$d"
    fi
  done
  [ -z "${1:-}" ] || probe "$@"
}

# The rollback point and the resource baseline (health.sh's resource sections), after `pending`.
probe() {
  links "$1"
  echo "current=$current"
  echo "profile=$link"
  [ -z "${2:-}" ] || run_script "$2" --resources
}

# The probe now, the launch once the deployer has the new system on the host (see the header).
session() {
  pending "$3" "${13:-}"
  [ -z "$waiting" ] || exit 0
  echo "@@ready"
  key=
  until [ "$key" = "$6" ]; do read -r key new previous generation || exit 0; done
  [ "$generation" != - ] || generation=
  a1=$1 a2=$2 a3=$3 a5=$5 a6=$6 a7=$7 a10=${10} a11=${11}
  shift 11
  launch "$a1" "$a2" "$a3" "$new" "$a5" "$a6" "$a7" "$previous" "$generation" "$a10" "$a11" "$@"
}

case $action in
  launch) launch "$@" ;;
  session) session "$@" ;;
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
    # Asked for when the launch's answer came without them: the verdict is in, so waiting is safe.
    if [ "${3:-}" = changes ] && [ -f "$dir/changes.pid" ]; then
      wait_for changes.done 60 changes.pid
      print_changes
    fi
    ;;
  request-rollback)
    nonce=$1 profile=$2 dir=$root/$1
    printf '%s' "$3" > "$dir/rollback-request"
    wake
    wait_for result 120
    report
    ;;
  pending) pending "$@" ;;
  log) tail -n "$2" "$root/$1/activation.log" 2> /dev/null ;;
  *)
    echo "activation.sh: unknown action '$action' (launch, session, status, confirm, request-rollback, pending, log)" >&2
    exit 2
    ;;
esac
exit 0
