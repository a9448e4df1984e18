"""The kube-proxy half of the node agent: Services + EndpointSlices -> rules, shown in
iptables-save form, and a userspace data path that carries the traffic."""
