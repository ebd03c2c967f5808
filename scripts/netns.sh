#!/usr/bin/env bash
# Runs a command inside a private network namespace made for it. Inside there is only `lo` and a
# veth pair, spaces0 (10.99.0.1/24) <-> spaces1 (10.99.0.2/24), both ends inside: WebRTC needs
# non-loopback addresses (libnice never offers 127.0.0.1), and nothing can leave the namespace.
# Janus is told to use spaces0 (ice_enforce_list); clients may use either address.
# Network namespaces need root; elsewhere the suite is skipped with a note.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "[netns] skipped: the WebRTC and browser suites need root (for a private network namespace)." >&2
  exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
  apt-get install -y -qq iproute2 >/dev/null
fi
exec unshare --net -- bash -c '
  set -e
  ip link set lo up
  ip link add spaces0 type veth peer name spaces1
  ip addr add 10.99.0.1/24 dev spaces0
  ip addr add 10.99.0.2/24 dev spaces1
  ip link set spaces0 up
  ip link set spaces1 up
  # Janus (libnice) pins its sockets to spaces0: what it sends to 10.99.0.2 crosses the veth and
  # arrives on spaces1 from an address of this namespace, which Linux drops unless accept_local.
  echo 1 > /proc/sys/net/ipv4/conf/spaces1/accept_local
  exec "$@"' netns "$@"
