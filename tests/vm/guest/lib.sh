# Helpers for kv's VM scenarios (sourced by /init and by every scenario's shell).
# Scenario files call these; see tests/vm/README.md for the conventions.

export PATH=/usr/bin:/bin
: "${KV_VM_SCENARIO_TIMEOUT:=180}"
mkdir -p /tmp/kv-vm/pids
touch /tmp/kv-vm/results

uptime_s() { cut -d' ' -f1 /proc/uptime; }
elapsed_since() { awk -v start="$1" '{ printf "%.1f", $1 - start }' /proc/uptime; }

# result NAME PASS|FAIL DETAIL... : record one check (names: kebab-case, unique).
result() {
  local name=$1 verdict=$2
  shift 2
  case $verdict in
    PASS | FAIL) ;;
    *) set -- "result called with verdict '$verdict' for $name: $*"; verdict=FAIL ;;
  esac
  echo "$verdict $name" >> /tmp/kv-vm/results
  echo "RESULT $name $verdict $*"
}

# check NAME CMD... : PASS with the command's last output line, or FAIL with its output.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    result "$name" PASS "$(echo "$out" | tail -n 1)"
  else
    result "$name" FAIL "exit $?: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
  fi
}

# waitfor SECONDS CMD... : run CMD every 0.1 s until it succeeds; 1 if it never did.
waitfor() {
  local ticks=$(($1 * 10))
  shift
  while [ "$ticks" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    usleep 100000
    ticks=$((ticks - 1))
  done
  return 1
}

# excerpt FILE [LINES] : the last lines of FILE on one line, for a RESULT detail.
excerpt() { tail -n "${2:-3}" "$1" 2>/dev/null | tr '\n' ' '; }

# spawn NAME CMD... : start CMD in the background, output in /tmp/NAME.log. /init kills
# whatever is still running when the scenario ends.
spawn() {
  local name=$1
  shift
  # Emptied here, not by the background shell's redirection: that can run after the
  # caller's first `grep /tmp/NAME.log`, which then reads an earlier scenario's log of the
  # same name (seen on aarch64: 40-gadget started kv before its feeder had set a format).
  : > "/tmp/$name.log"
  "$@" >> "/tmp/$name.log" 2>&1 &
  echo $! > "/tmp/kv-vm/pids/$name"
}

# stop NAME : SIGTERM a spawned process, SIGKILL after 5 s. Sets STOP_STATUS to its exit status.
stop() {
  local pid
  pid=$(cat "/tmp/kv-vm/pids/$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null
  waitfor 5 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  STOP_STATUS=$?
  rm -f "/tmp/kv-vm/pids/$1"
}

# kv_start ARGS... : start kv (output in /tmp/kv.log) and wait up to 20 s until its port
# answers. Sets KV_PORT and KV_URL (http://127.0.0.1:PORT). Returns 1 if kv exited or
# never answered.
kv_start() {
  local prev="" arg pid ticks=200
  KV_PORT=3000
  for arg in "$@"; do
    case $prev in -p | --port) KV_PORT=$arg ;; esac
    case $arg in --port=*) KV_PORT=${arg#--port=} ;; esac
    prev=$arg
  done
  KV_URL=http://127.0.0.1:$KV_PORT
  spawn kv kv "$@"
  pid=$(cat /tmp/kv-vm/pids/kv)
  while [ "$ticks" -gt 0 ]; do
    guest-tools port-open "127.0.0.1:$KV_PORT" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    usleep 100000
    ticks=$((ticks - 1))
  done
  return 1
}

kv_stop() { stop kv; }

# capture_nodes : the /dev/video* nodes that offer video capture, one per line.
capture_nodes() {
  local node
  for node in /dev/video*; do
    [ -e "$node" ] || continue
    v4l2-ctl -d "$node" --info 2>/dev/null | sed -n '/Device Caps/,$p' | grep -q 'Video Capture$' && echo "$node"
  done
}

# provoke KIND : the harness self-test's deliberate kernel failure (tests/vm/selftest):
# loads kv_vm_crash, says so on the console, and writes KIND (list_del, warn, softlockup,
# ...) to it. Returns 1 with a FAIL recorded when the module will not load.
provoke() {
  if ! modprobe kv_vm_crash 2>/tmp/modprobe.err; then
    result selftest-crash-module FAIL "modprobe kv_vm_crash: $(cat /tmp/modprobe.err)"
    return 1
  fi
  echo "=== selftest: writing $1 to kv_vm_crash now"
  # Let the serial port send that line first: a panic that follows stops the tty, and
  # check measures from this line (seen lost once without the pause).
  sleep 1
  echo "$1" > /sys/module/kv_vm_crash/parameters/crash
}

# host_block sd|sr : the host-side block device (flash drive or CD-ROM) of a gadget on
# dummy_hcd; 1 while there is none.
host_block() {
  local b
  for b in /sys/block/"$1"*; do
    [ -e "$b" ] || continue
    case "$(readlink -f "$b/device")" in *dummy_hcd*) echo "/dev/${b##*/}"; return 0 ;; esac
  done
  return 1
}
