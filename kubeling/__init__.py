"""kubeling: a Kubernetes control plane as real, separate Python processes."""

__version__ = "0.1.0"
