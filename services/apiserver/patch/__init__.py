"""The three patch types kubectl and clients send, plus server-side apply's merge."""
from .apply import apply_patch
from .jsonpatch import apply_json_patch
from .merge import apply_merge_patch
from .strategic import apply_strategic_merge_patch

__all__ = ["apply_json_patch", "apply_merge_patch", "apply_patch", "apply_strategic_merge_patch"]
