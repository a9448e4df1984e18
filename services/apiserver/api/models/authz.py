"""authorization.k8s.io/v1 and authentication.k8s.io/v1 review kinds (create-only, never stored)."""
from ..schema import A, B, M, O, OPEN, S
from .meta import toplevel

ResourceAttributes = O(None, {"namespace": S(), "verb": S(), "group": S(), "version": S(), "resource": S(),
                              "subresource": S(), "name": S(), "fieldSelector": OPEN(), "labelSelector": OPEN()})
SelfSubjectAccessReview = toplevel(
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
    "SelfSubjectAccessReview checks whether or the current user can perform an action.",
    spec=O(None, {"resourceAttributes": ResourceAttributes, "nonResourceAttributes": O(None, {"path": S(), "verb": S()})}),
    status=O(None, {"allowed": B(), "denied": B(), "reason": S(), "evaluationError": S()}))
SelfSubjectReview = toplevel(
    "io.k8s.api.authentication.v1.SelfSubjectReview",
    "SelfSubjectReview contains the user information that the kube-apiserver has about the user making this request.",
    status=O(None, {"userInfo": O(None, {"username": S(), "uid": S(), "groups": A(S()), "extra": M(A(S()))})}))
