"""The apiserver's storage layer: the only code in kubeling that talks to the store (etcd v3 JSON gateway)."""
from .client import Compare, EtcdClient, KeyValue, StoreError, StoreTLS, StoreUnavailable, WatchEvent, prefix_end

__all__ = ["Compare", "EtcdClient", "KeyValue", "StoreError", "StoreTLS", "StoreUnavailable", "WatchEvent", "prefix_end"]
