# 20 fast viewers beside one that never reads and one throttled to 50 KB/s, at 1080p:
# do the fast ones keep the full rate? (bench/vm-bench)
. /usr/lib/kv-bench/lib.sh
feed_start 1080 || return 0
for server in $SERVERS; do
  if server_start "$server" 1080; then
    measure "bench-$server-slow" "$STREAM_URL" "$SERVER_PID" "$MEASURE_S" 20 1 1 51200 \
      --label "slow server=$server res=1080"
    server_stop "$server"
  else
    result "bench-$server-slow" FAIL "$(excerpt /tmp/$server.log)"
  fi
done
feed_stop
