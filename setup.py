"""Package mapping (the rest of the metadata is in pyproject.toml).

The repository keeps its documented layout (README, "What is here"), with `services/` and `shared/` at the top level, but
installs them under one import package (`kubeling.services...`, `kubeling.shared...`) so nothing
with a generic name like `services` or `shared` lands in site-packages.
"""
from setuptools import find_packages, setup

SUBTREES = ("services", "shared")
packages = ["kubeling"] + [
    f"kubeling.{p}" for p in find_packages(include=[f"{t}" for t in SUBTREES] + [f"{t}.*" for t in SUBTREES])
]
setup(
    packages=packages,
    package_dir={"kubeling": "kubeling", **{f"kubeling.{t}": t for t in SUBTREES}},
    package_data={"": ["*.json", "*.yaml"]},
)
