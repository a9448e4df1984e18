"""coordination.k8s.io/v1 kinds."""
from ..schema import I, O, S, TIME
from .meta import toplevel

Lease = toplevel("io.k8s.api.coordination.v1.Lease", "Lease defines a lease concept.",
                 spec=O("io.k8s.api.coordination.v1.LeaseSpec", {
                     "holderIdentity": S(), "leaseDurationSeconds": I(), "acquireTime": TIME(), "renewTime": TIME(),
                     "leaseTransitions": I(), "strategy": S(), "preferredHolder": S()}))
