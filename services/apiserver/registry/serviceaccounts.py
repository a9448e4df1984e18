"""ServiceAccounts."""
from __future__ import annotations


from ..api.models import core
from .strategy import Strategy


class ServiceAccountStrategy(Strategy):
    kind, resource, singular = "ServiceAccount", "serviceaccounts", "serviceaccount"
    short_names = ("sa",)
    schema = core.ServiceAccount
