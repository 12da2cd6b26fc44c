# kv --gadget --ethernet on dummy_hcd: the same kernel's usbnet driver is the target's
# network card. Moved into its own network namespace (the target), it gets a DHCP lease
# from kv's dnsmasq with busybox udhcpc — no default route, no DNS server — and pings the
# board. A killed dnsmasq comes back and renews the lease; a target that drops and
# re-enumerates the device (a reboot) gets its lease again; stopping kv leaves no dnsmasq.
# NCM and RNDIS (with its Microsoft OS descriptors) enumerate on the host side too.
# Needs iproute2 (netns) and dnsmasq, which only the x86_64 base has (the host's own
# programs, copied in).
# vm-archs: x86_64

CFS=/sys/kernel/config/usb_gadget
NS=target
BOARD=10.55.0.1
NSX="ip.iproute2 netns exec $NS"

modprobe -a usb_f_ncm usb_f_rndis cdc_ncm rndis_host 2>/tmp/modprobe.err ||
  result ethernet-modules FAIL "$(cat /tmp/modprobe.err)"
modprobe v4l2loopback video_nr=3 exclusive_caps=1 max_buffers=4
spawn feed guest-tools mjpeg-feed /dev/video3 320 240 5
waitfor 10 grep -q 'first frame written' /tmp/feed.log

# host_if DRIVER : the host-side interface the usbnet DRIVER made for kv's gadget.
host_if() {
  local i
  for i in /sys/class/net/*; do
    [ "$(basename "$(readlink "$i/device/driver" 2>/dev/null)")" = "$1" ] && { basename "$i"; return 0; }
  done
  return 1
}

# udhcpc's script: records what the server offered, configures the address on bound/renew.
cat > /tmp/udhcpc.sh <<'EOF'
#!/bin/sh
echo "$1 ip=$ip mask=$mask router=$router dns=$dns serverid=$serverid lease=$lease" >> /tmp/udhcpc-events.log
case $1 in
  bound) ip addr add "$ip/$mask" dev "$interface" ;;
esac
exit 0
EOF
chmod +x /tmp/udhcpc.sh
rm -f /tmp/udhcpc-events.log

status() { guest-tools http GET "$KV_URL/api/status" 2>&1 | tail -n 1; }
# From the network object on (other objects may follow it in the status).
network() { status | grep -o '"network":{.*}' ; }
dnsmasq_pid() { pidof dnsmasq; }

if ! kv_start --gadget --ethernet -d /dev/video3 -p 8080; then
  result ethernet-start FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
  stop feed
  return 0
fi
if waitfor 10 dnsmasq_pid && grep -q 'dnsmasq started' /tmp/kv.log; then
  result ethernet-start PASS "$(grep -m1 'USB ethernet' /tmp/kv.log | sed 's/.*USB ethernet/USB ethernet/')"
else
  result ethernet-start FAIL "no dnsmasq: $(excerpt /tmp/kv.log 6)"
fi
# Two runs of kv on one board must give the target the same MACs; what they are is
# derived from the machine ID (here the guest's hostname), so check the form.
ecm=$CFS/kv/functions/ecm.usb0
macs="host=$(cat $ecm/host_addr) dev=$(cat $ecm/dev_addr) ifname=$(cat $ecm/ifname)"
case $macs in
  host=?[26ae]:*dev=?[26ae]:*ifname=usb0) result ethernet-macs PASS "$macs" ;;
  *) result ethernet-macs FAIL "$macs" ;;
esac

# settled_if DRIVER : host_if DRIVER once it has stayed the same interface for 3 s. An
# emulated host now and then resets the device just after enumerating it (kv logs
# "USB host: default" then "configured" again); the reset makes a new interface, and
# one moved into the namespace before it would be gone.
settled_if() {
  local try name before after
  for try in 1 2 3 4 5 6; do
    name=$(host_if "$1") || { sleep 1; continue; }
    before=$(cat "/sys/class/net/$name/ifindex" 2>/dev/null)
    sleep 3
    after=$(cat "/sys/class/net/$name/ifindex" 2>/dev/null)
    [ -n "$before" ] && [ "$before" = "$after" ] && { echo "$name"; return 0; }
  done
  return 1
}

# lease_in_target : moves the settled cdc_ether interface $HOSTIF into the target's
# namespace and runs udhcpc there; returns 1 unless a lease comes within 40 s.
lease_in_target() {
  ip.iproute2 link set "$HOSTIF" netns $NS
  $NSX ip.iproute2 link set "$HOSTIF" up
  rm -f /tmp/udhcpc-events.log
  spawn udhcpc $NSX udhcpc -f -i "$HOSTIF" -s /tmp/udhcpc.sh -t 20 -T 1 -A 1
  waitfor 40 grep -q '^bound' /tmp/udhcpc-events.log
}

# reenumerate : the target drops kv's device and enumerates it again, as a rebooting
# computer does (dummy_hcd has one port: 1-1). The interface comes back under a new index
# in the root namespace; HOSTIF names it once it has settled.
reenumerate() {
  stop udhcpc
  $NSX ip.iproute2 link set "$HOSTIF" netns 1 2>/dev/null
  echo 0 > /sys/bus/usb/devices/1-1/authorized
  sleep 1
  echo 1 > /sys/bus/usb/devices/1-1/authorized
  waitfor 20 host_if cdc_ether && HOSTIF=$(settled_if cdc_ether)
}

lease_failure() {
  echo "udhcpc: $(excerpt /tmp/udhcpc.log 4); in $NS: $($NSX ip.iproute2 -o -s link show | tr '\n' ' ')" \
    "board: $(ip.iproute2 -o -s link show usb0 | tr '\n' ' ') $(ip.iproute2 -o addr show usb0 | tr '\n' ' ');" \
    "kv: $(grep 'USB host' /tmp/kv.log | tr '\n' ' ') $(excerpt /tmp/kv.log 4);" \
    "dmesg: $(dmesg | grep -iE 'usb|cdc|reset' | tail -n 5 | tr '\n' ' ')"
}

if ! waitfor 20 host_if cdc_ether || ! HOSTIF=$(settled_if cdc_ether); then
  result ethernet-host-interface FAIL "no cdc_ether interface: $(ls /sys/class/net | tr '\n' ' ')"
  kv_stop
  stop feed
  return 0
fi
result ethernet-host-interface PASS "$HOSTIF (cdc_ether), MAC $(cat /sys/class/net/$HOSTIF/address)"

ip.iproute2 netns add $NS
$NSX ip.iproute2 link set lo up
got_lease=0
lease_in_target && got_lease=1
# In 3 of ~15 CI-like runs the emulated host reset the device during its first
# enumeration (kv logged "USB host: default", then "configured") and afterwards not one
# frame reached the board's usb0, while the link said carrier up on both ends. Every
# re-enumeration tried since (below, and 5 in a row by hand) gave a working link, so the
# scenario re-enumerates once in that case and says so; the cause is not known.
if [ "$got_lease" = 0 ] && [ "$(cat /sys/class/net/usb0/statistics/rx_packets)" = 0 ]; then
  echo "NOTE ethernet: no frame reached the board's usb0; re-enumerating once. $(lease_failure)"
  reenumerate && lease_in_target && got_lease=1
fi
if [ "$got_lease" = 1 ]; then
  lease=$(grep -m1 '^bound' /tmp/udhcpc-events.log)
  result ethernet-dhcp-lease PASS "$lease"
  case $lease in
    *" router= dns= "*) result ethernet-no-route-no-dns PASS "router and dns empty; routes: $($NSX ip route | tr '\n' ';')" ;;
    *) result ethernet-no-route-no-dns FAIL "$lease" ;;
  esac
  if $NSX ip route | grep -q default; then
    result ethernet-no-default-route FAIL "$($NSX ip route | tr '\n' ';')"
  else
    result ethernet-no-default-route PASS "no default route in the target's namespace"
  fi
  check ethernet-ping-board $NSX ping -c 2 -W 5 $BOARD
  # Wake-on-LAN over the USB link: the magic packet kv sends to the link's broadcast
  # arrives on the target's side byte for byte (6 x ff, then the MAC 16 times).
  spawn wol $NSX guest-tools udp-recv 9 30
  waitfor 10 grep -q 'listening udp 9' /tmp/wol.log
  mac=525400a1b2c3 want=ffffffffffff
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do want=$want$mac; done
  answer=$(guest-tools http POST "$KV_URL/api/wol" '{"mac":"52:54:00:a1:b2:c3"}' 2>&1 | tail -n 1)
  if waitfor 20 grep -q "^datagram from $BOARD:[0-9]* bytes=102 hex=$want\$" /tmp/wol.log; then
    result ethernet-wol-usb-link PASS "$(grep -o 'datagram from [^ ]* bytes=102' /tmp/wol.log), the magic packet for 52:54:00:a1:b2:c3; kv: $answer"
  else
    result ethernet-wol-usb-link FAIL "kv: $answer; listener: $(excerpt /tmp/wol.log 2 | cut -c1-300)"
  fi
  stop wol
else
  result ethernet-dhcp-lease FAIL "$(lease_failure)"
fi
check ethernet-status sh -c "guest-tools http GET $KV_URL/api/status | tail -n 1 | grep -o '\"network\":{.*\"restarts\":0}}'"

# dnsmasq dies: kv starts it again after its backoff, and the lease renews.
old=$(dnsmasq_pid)
kill -9 "$old" 2>/dev/null
if waitfor 15 sh -c "p=\$(pidof dnsmasq) && [ \"\$p\" != $old ]"; then
  result ethernet-dnsmasq-restarted PASS "pid $old killed, now $(dnsmasq_pid); $(network)"
else
  result ethernet-dnsmasq-restarted FAIL "$(excerpt /tmp/kv.log 4)"
fi
renewed_before=$(grep -c '^renew' /tmp/udhcpc-events.log)
kill -USR1 "$(cat /tmp/kv-vm/pids/udhcpc)" 2>/dev/null
if waitfor 20 sh -c "[ \$(grep -c '^renew' /tmp/udhcpc-events.log) -gt $renewed_before ]"; then
  result ethernet-lease-renewed PASS "$(grep '^renew' /tmp/udhcpc-events.log | tail -n 1)"
else
  result ethernet-lease-renewed FAIL "udhcpc: $(excerpt /tmp/udhcpc.log 4); events: $(excerpt /tmp/udhcpc-events.log 3)"
fi

# The target reboots: it drops the device and enumerates it again. kv carries on, and
# the new interface gets its lease again.
old_if=$HOSTIF
if reenumerate && lease_in_target; then
  result ethernet-reenumerated PASS "lease again on the re-enumerated interface: $(grep -m1 '^bound' /tmp/udhcpc-events.log)"
else
  result ethernet-reenumerated FAIL "was $old_if; $(lease_failure)"
fi
stop udhcpc

kv_stop
# dnsmasq must have obeyed SIGTERM (it inherits kv's blocked signals unless kv clears them).
# Nothing left in /run: dnsmasq's pid and lease files go, and their folder with them.
if [ "$STOP_STATUS" = 0 ] && waitfor 5 sh -c '! pidof dnsmasq' && [ ! -e $CFS/kv ] &&
  grep -q 'dnsmasq stopped' /tmp/kv.log && ! grep -q 'ignored SIGTERM' /tmp/kv.log && [ ! -e /run/kv ]; then
  result ethernet-stop-no-dnsmasq PASS "exit 0, dnsmasq stopped by SIGTERM, gadget removed, /run/kv gone"
else
  result ethernet-stop-no-dnsmasq FAIL "exit $STOP_STATUS; dnsmasq: $(pidof dnsmasq); /run/kv: $(ls /run/kv 2>&1 | tr '\n' ' '); $(excerpt /tmp/kv.log 3)"
fi
ip.iproute2 netns del $NS
echo "--- kv's log, ECM run"
cat /tmp/kv.log

# --- NCM (on a board without dnsmasq) and RNDIS: the host side binds its driver -----
mv /usr/sbin/dnsmasq /tmp/dnsmasq.aside
for pair in ncm:cdc_ncm rndis:rndis_host; do
  type=${pair%:*} driver=${pair#*:}
  [ "$type" = rndis ] && mv /tmp/dnsmasq.aside /usr/sbin/dnsmasq
  if ! kv_start --gadget --ethernet-type "$type" -d /dev/video3 -p 8080; then
    result "ethernet-$type" FAIL "kv did not start: $(excerpt /tmp/kv.log 5)"
    continue
  fi
  if waitfor 20 host_if "$driver"; then
    detail="$(host_if "$driver") ($driver)"
    if [ "$type" = rndis ]; then
      d=$CFS/kv/functions/rndis.usb0/os_desc/interface.rndis
      detail="$detail os_desc use=$(cat $CFS/kv/os_desc/use) sign=$(cat $CFS/kv/os_desc/qw_sign) id=$(cat $d/compatible_id)/$(cat $d/sub_compatible_id)"
    fi
    result "ethernet-$type" PASS "$detail"
  else
    result "ethernet-$type" FAIL "no $driver interface: $(ls /sys/class/net | tr '\n' ' '); $(excerpt /tmp/kv.log 3)"
  fi
  if [ "$type" = rndis ]; then
    # kv killed outright: its dnsmasq (which dropped root, and with it any parent-death
    # signal) lives on, and the next kv stops it before starting its own.
    waitfor 10 pidof dnsmasq
    orphan=$(pidof dnsmasq)
    kill -9 "$(cat /tmp/kv-vm/pids/kv)"
    stop kv
    if kv_start --gadget --ethernet-type rndis -d /dev/video3 -p 8080 && waitfor 10 pidof dnsmasq &&
      [ "$(pidof dnsmasq)" != "$orphan" ] && grep -q 'left running by an earlier kv' /tmp/kv.log; then
      result ethernet-kill9-stale-dnsmasq PASS "orphan $orphan stopped by the next kv, now $(pidof dnsmasq)"
    else
      result ethernet-kill9-stale-dnsmasq FAIL "dnsmasq: $(pidof dnsmasq) (orphan $orphan); $(excerpt /tmp/kv.log 4)"
    fi
  fi
  if [ "$type" = ncm ]; then
    said=$(grep -c 'dnsmasq not found' /tmp/kv.log)
    if [ "$said" = 1 ] && network | grep -q '"address":null,"dnsmasq":null'; then
      result ethernet-no-dnsmasq PASS "said once: $(grep 'dnsmasq not found' /tmp/kv.log | sed 's/.*dnsmasq not/dnsmasq not/' | cut -c1-90)...; $(network)"
    else
      result ethernet-no-dnsmasq FAIL "said $said times; $(network); $(excerpt /tmp/kv.log 3)"
    fi
  fi
  kv_stop
done
[ -e /usr/sbin/dnsmasq ] || mv /tmp/dnsmasq.aside /usr/sbin/dnsmasq
waitfor 5 sh -c '! pidof dnsmasq' || result ethernet-end-no-dnsmasq FAIL "dnsmasq $(pidof dnsmasq) left behind"
stop feed
