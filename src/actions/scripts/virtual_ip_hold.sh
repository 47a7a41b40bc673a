# Adds the cluster's virtual IP VIP_CIDR to VIP_INTERFACE (empty: the interface
# that holds HOST_ADDRESS) unless an interface has it, then announces it with a
# gratuitous ARP (ANNOUNCE yes, IPv4) when arping is installed. Runs as root;
# the values reach `ip` and `arping` only as arguments.
set -eu
HOLDER=$(ip -o addr show | awk -v cidr="$VIP_CIDR" '$4 == cidr { print $2; exit }')
if [ -n "$HOLDER" ]; then
  echo "virtual IP $VIP_CIDR is already on $HOLDER"
  exit 0
fi
if [ -z "$VIP_INTERFACE" ]; then
  VIP_INTERFACE=$(ip -o addr show | awk -v address="$HOST_ADDRESS" '{ split($4, parts, "/"); if (parts[1] == address) { print $2; exit } }')
fi
if [ -z "$VIP_INTERFACE" ]; then
  echo "no interface holds $HOST_ADDRESS: set cluster_vip_interface" >&2
  exit 1
fi
ip addr add "$VIP_CIDR" dev "$VIP_INTERFACE"
if [ "$ANNOUNCE" = yes ] && command -v arping >/dev/null 2>&1; then
  if arping -q -U -c 2 -I "$VIP_INTERFACE" "$VIP_ADDRESS"; then
    echo "added virtual IP $VIP_CIDR on $VIP_INTERFACE, announced"
  else
    echo "added virtual IP $VIP_CIDR on $VIP_INTERFACE; arping could not announce it"
  fi
else
  echo "added virtual IP $VIP_CIDR on $VIP_INTERFACE"
fi
