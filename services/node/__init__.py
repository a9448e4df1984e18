"""`kubeling node`: one node agent = the kubelet (register, heartbeat, run fake containers, serve
logs) and, later, kube-proxy."""
