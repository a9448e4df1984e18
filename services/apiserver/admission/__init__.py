"""Admission: mutating plugins, then (after the registry prepared, defaulted and validated the
object) validating ones, as kube-apiserver runs them. interfaces.py defines the phases, chain.py
runs them, plugins.py lists the plugins in order."""
