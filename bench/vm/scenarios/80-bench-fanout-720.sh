# kv and ustreamer serving 720p desktop frames to 1..100 viewers (bench/vm-bench).
. /usr/lib/kv-bench/lib.sh
fanout 720
