"""discovery.k8s.io/v1 kinds."""
from ..schema import A, B, I, M, O, OPEN, S
from .core import ObjectReference
from .meta import toplevel

EndpointSlice = toplevel("io.k8s.api.discovery.v1.EndpointSlice", "EndpointSlice represents a subset of the endpoints that implement a service.",
                         addressType=S(),
                         endpoints=A(O("io.k8s.api.discovery.v1.Endpoint", {
                             "addresses": A(S(), list_type="set"),
                             "conditions": O(None, {"ready": B(), "serving": B(), "terminating": B()}),
                             "hostname": S(), "targetRef": ObjectReference, "deprecatedTopology": M(S()),
                             "nodeName": S(), "zone": S(), "hints": OPEN()})),
                         ports=A(O(None, {"name": S(), "protocol": S(), "port": I(), "appProtocol": S()})))
