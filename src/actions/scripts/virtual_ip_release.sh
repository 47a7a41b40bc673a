# Removes the cluster's virtual IP VIP_CIDR from every interface that holds it
# (a member that is not the primary). Runs as root; the value reaches `ip`
# only as an argument.
set -eu
HOLDERS=$(ip -o addr show | awk -v cidr="$VIP_CIDR" '$4 == cidr { print $2 }')
if [ -z "$HOLDERS" ]; then
  echo "virtual IP $VIP_CIDR is on no interface"
  exit 0
fi
for interface in $HOLDERS; do
  ip addr del "$VIP_CIDR" dev "$interface"
  echo "removed virtual IP $VIP_CIDR from $interface"
done
