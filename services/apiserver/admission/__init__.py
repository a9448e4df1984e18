"""Admission plugins, run in order on every create/update/delete (upstream's enabled-by-default set
that matters for kubeling): NamespaceLifecycle, ServiceAccount, DefaultTolerationSeconds, ResourceQuota."""
from .chain import AdmissionChain

__all__ = ["AdmissionChain"]
