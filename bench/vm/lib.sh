# Helpers for bench/vm scenarios, sourced after the harness's guest/lib.sh. The run's
# parameters come from /usr/lib/kv-bench/config.sh, written by bench/vm-bench.
. /usr/lib/kv-bench/config.sh
DEV=/dev/video3
FRAMES=/usr/share/kv-bench/frames

# feed_start RES : v4l2loopback on $DEV fed with the RES (720 or 1080) desktop frames at 30 fps.
feed_start() {
  modprobe v4l2loopback video_nr=3 card_label=kv-bench exclusive_caps=1 max_buffers=4 &&
    waitfor 5 test -e $DEV || { result "bench-feed-$1" FAIL "no $DEV"; return 1; }
  spawn feed guest-tools bench-feed $DEV 30 "$FRAMES/$1"/*.jpg
  if ! waitfor 10 grep -q 'first frame written' /tmp/feed.log; then
    result "bench-feed-$1" FAIL "$(excerpt /tmp/feed.log)"
    return 1
  fi
  echo "BENCH-INFO $(head -n 1 /tmp/feed.log)"
}

feed_stop() { stop feed; modprobe -r v4l2loopback; }

size_of() { case $1 in 720) echo 1280x720 ;; 1080) echo 1920x1080 ;; esac; }

# server_start kv|ustreamer RES [EXTRA KV ARGS...] : sets SERVER_PID and STREAM_URL.
server_start() {
  local server=$1 res=$2
  shift 2
  case $server in
    kv)
      kv_start -d $DEV -r "$(size_of "$res")" -f 30 -b 127.0.0.1 -p 8080 --max-connections 512 "$@" || return 1
      STREAM_URL=http://127.0.0.1:8080/stream
      ;;
    ustreamer)
      # MJPEG passed through as the device delivers it (--encoder=HW: no re-encoding).
      spawn ustreamer ustreamer -d $DEV -r "$(size_of "$res")" -m MJPEG -c HW \
        -s 127.0.0.1 -p 8081 --tcp-nodelay --server-timeout 30
      waitfor 20 guest-tools port-open 127.0.0.1:8081 || return 1
      STREAM_URL="http://127.0.0.1:8081/stream?extra_headers=1"
      ;;
  esac
  SERVER_PID=$(cat "/tmp/kv-vm/pids/$server")
  usleep 500000
}

server_stop() { stop "$1"; }

# rss_fields PID : "rss_kb=… rss_anon_kb=… rss_file_kb=…" from smaps_rollup, which walks
# the page tables: this kernel (6.1) keeps RSS counters per thread and folds them into
# /proc/PID/status only every 64 page faults, so an idle process shows there as a few KiB.
rss_fields() {
  awk '/^Rss:/ { rss = $2 } /^Anonymous:/ { anon = $2 }
    END { print "rss_kb=" rss " rss_anon_kb=" anon " rss_file_kb=" (rss - anon) }' "/proc/$1/smaps_rollup"
}

# idle_rss SERVER RES : the server's memory after a second with no viewer.
idle_rss() {
  sleep 1
  echo "BENCH idle server=$1 res=$2 $(rss_fields "$SERVER_PID")"
}

# measure NAME ARGS... : guest-tools bench-viewers ARGS, recorded as one RESULT.
measure() {
  local name=$1 out
  shift
  if out=$(guest-tools bench-viewers "$@" 2>&1); then
    echo "$out" | grep '^BENCH'
    result "$name" PASS "$(echo "$out" | tail -n 1 | cut -c1-160)"
  else
    result "$name" FAIL "$(echo "$out" | tail -n 2 | tr '\n' ' ')"
  fi
}

# fanout RES : for each viewer count and server, a fresh server and one measurement.
# The servers alternate per count so that drifting load on a shared host hits both
# alike and the kv/ustreamer ratios compare neighbouring minutes.
fanout() {
  local res=$1 server n
  feed_start "$res" || return 0
  for n in $VIEWERS; do
    for server in $SERVERS; do
      if ! server_start "$server" "$res"; then
        result "bench-$server-$res-start" FAIL "$(excerpt /tmp/$server.log)"
        continue
      fi
      [ "$n" = "$(echo $VIEWERS | cut -d' ' -f1)" ] && idle_rss "$server" "$res"
      measure "bench-$server-${res}p-$n" "$STREAM_URL" "$SERVER_PID" "$MEASURE_S" "$n" \
        --label "fanout server=$server res=$res"
      server_stop "$server"
    done
  done
  feed_stop
}
