"""Build meta.k8s.io/v1 Table responses (lists, single objects and watch events)."""
from __future__ import annotations

from typing import Any

from ..registry.strategy import Strategy


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(strategy: Strategy, items: list[dict[str, Any]], include_object: str = "Metadata",
          list_meta: dict[str, Any] | None = None, with_columns: bool = True) -> dict[str, Any]:
    rows = []
    for obj in items:
        row: dict[str, Any] = {"cells": strategy.row(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
            "columnDefinitions": strategy.columns() if with_columns else [], "rows": rows}
