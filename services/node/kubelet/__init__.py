"""The kubelet half of the node agent, laid out like upstream's pkg/kubelet."""
