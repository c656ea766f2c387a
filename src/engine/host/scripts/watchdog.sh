#!/bin/sh
# The activation supervisor ("watchdog"): activates a system and keeps the magic-rollback window, on
# the host itself, so that neither the deployer's connection nor its life decides the outcome.
# Started detached by `activation.sh launch` (a systemd-run unit, or under setsid), as
#   sh -c WATCHDOG nix-deploy-watchdog PROFILE NEW GOAL NONCE TIMEOUT PREVIOUS PREVIOUS_GENERATION \
#     ACTIVATION_TIMEOUT TARGET_GENERATION
# Arguments:
#   PROFILE              the system profile (/nix/var/nix/profiles/system)
#   NEW                  the system to activate (a store path)
#   GOAL                 switch | boot | test (test leaves the profile alone)
#   NONCE                names the activation's directory RUN/NONCE and is its confirmation
#   TIMEOUT              seconds to wait for the confirmation once activated
#   PREVIOUS             the system to go back to
#   PREVIOUS_GENERATION  the profile generation to go back to; empty: set the profile to PREVIOUS
#   ACTIVATION_TIMEOUT   bound in seconds on switch-to-configuration (when `timeout` exists)
#   TARGET_GENERATION    switch the profile to this existing generation instead of adding NEW (a
#                        rollback); empty: add NEW
# Environment: NIX_DEPLOY_RUN_DIR moves RUN (default /run/nix-deploy; only tests set it). PATH must
#   hold nix-env and coreutils: a transient unit gets them from the launcher's --setenv.
# Reads (RUN/NONCE must exist and hold the FIFO `wake`; the FIFO `events`, when there, hears of each
# file written below):
#   confirm            the nonce, written by `activation.sh confirm`: keep the new system
#   rollback-request   a reason, written by `activation.sh request-rollback`: revert now
# Writes into RUN/NONCE, each file whole (written beside and renamed), one line each:
#   supervisor.pid     its pid, first of all (its command line names the nonce: see runs())
#   activation-status  exit status of nix-env or switch-to-configuration
#   rollback-reason    why it reverted;  rollback-status: exit status of the revert's activation
#   result             confirmed | rolled-back, last of all: the verdict
#   activation.log, rollback.log: the output of the activation and of the revert
# Exit status: 0 once a verdict is written; anything else means it died before one.
#
# The window is kept by the clock: a deadline in hundredths of a second from /proc/uptime (monotonic,
# read without starting a process), checked on every wake-up. It sleeps on the FIFO `wake`, which the
# confirmation, the rollback request and one timer write to (under bash, a read timed out at the
# deadline instead): it answers a request at once, costs no process per check, and under load can only wake late, never early, so the host keeps the new system
# for the whole window and reverts right after it.
profile=$1 new=$2 goal=$3 nonce=$4 timeout=$5 previous=$6 previous_generation=$7 activation_timeout=$8 target_generation=$9
dir=${NIX_DEPLOY_RUN_DIR:-/run/nix-deploy}/$nonce
# Each file written is named on the FIFO `events`, which wakes a waiting `activation.sh` at once.
put() {
  printf '%s\n' "$2" > "$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"
  [ ! -p "$dir/events" ] || echo "$1" 1<> "$dir/events"
}
echo "$$" > "$dir/supervisor.pid"
exec 3<> "$dir/wake"
timer=
finish() {
  [ -z "$timer" ] || kill "$timer" 2> /dev/null
  put result "$1"
  exit 0
}
rollback() {
  put rollback-reason "$1"
  if [ "$goal" != test ]; then
    if [ -n "$previous_generation" ]; then nix-env -p "$profile" --switch-generation "$previous_generation"
    else nix-env -p "$profile" --set "$previous"; fi
  fi
  case "$goal" in boot) again="boot" ;; test) again="test" ;; *) again="switch" ;; esac
  "$previous/bin/switch-to-configuration" "$again" > "$dir/rollback.log" 2>&1
  put rollback-status "$?"
  finish rolled-back
}
if [ "$goal" != test ]; then
  if [ -n "$target_generation" ]; then nix-env -p "$profile" --switch-generation "$target_generation"
  else nix-env -p "$profile" --set "$new"; fi > "$dir/activation.log" 2>&1
  status=$?
  if [ "$status" -ne 0 ]; then
    # nix-env changes the profile atomically or not at all: nothing to revert.
    put activation-status "$status"
    put rollback-reason "could not set the system profile $profile (nix-env exited with status $status)"
    finish rolled-back
  fi
fi
if command -v timeout > /dev/null; then
  timeout "$activation_timeout" "$new/bin/switch-to-configuration" "$goal" >> "$dir/activation.log" 2>&1
else
  "$new/bin/switch-to-configuration" "$goal" >> "$dir/activation.log" 2>&1
fi
status=$?
put activation-status "$status"
[ "$status" -eq 0 ] || rollback "activation exited with status $status"
# /proc/uptime is `SECONDS.HH ...`: hundredths as one integer (the leading 1 keeps `08` decimal).
now() { read -r up _ < /proc/uptime; now=$((${up%.*} * 100 + 1${up#*.} - 100)); }
now
deadline=$((now + timeout * 100))
while :; do
  # The shell's own read: no process per wake-up (the file has no newline: read fails, yet sets it).
  confirmed=
  [ ! -f "$dir/confirm" ] || read -r confirmed 2> /dev/null < "$dir/confirm" || :
  if [ "$confirmed" = "$nonce" ]; then finish confirmed; fi
  if [ -f "$dir/rollback-request" ]; then rollback "$(cat "$dir/rollback-request")"; fi
  now
  [ "$now" -lt "$deadline" ] || rollback "no confirmation within ${timeout}s"
  left=$((deadline - now))
  left="$((left / 100)).$((left / 10 % 10))$((left % 10))"
  if [ -n "${BASH_VERSION:-}" ]; then
    # bash (the sh of NixOS) times the read itself, to the hundredth: no timer process.
    # shellcheck disable=SC3045
    read -r -t "$left" woke <&3 || :
    continue
  fi
  if [ -z "$timer" ]; then
    # One timer for the rest of the window. Killed when the supervisor decides early, its sleep
    # outlives it by at most the window (a unit's end stops it at once).
    { sleep "$left"; echo timer; } >&3 &
    timer=$!
  fi
  read -r woke <&3
  [ "$woke" != timer ] || timer=
done
