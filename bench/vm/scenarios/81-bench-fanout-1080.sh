# kv and ustreamer serving 1080p desktop frames to 1..100 viewers (bench/vm-bench).
. /usr/lib/kv-bench/lib.sh
fanout 1080
