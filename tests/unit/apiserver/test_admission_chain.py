"""The admission chain on its own: which plugins each phase runs, and how reservations end."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeling.services.apiserver.admission.chain import AdmissionChain
from kubeling.services.apiserver.admission.interfaces import (Attributes, FinishFunc, MutationInterface, Operation,
                                                            Reservation, ValidationInterface, attributes, finish_nothing)
from kubeling.services.apiserver.api import errors
from kubeling.services.apiserver.registry.configmaps import ConfigMapStrategy
from kubeling.services.apiserver.registry.store import Store
from kubeling.services.apiserver.storage import EtcdClient

STORE = Store(EtcdClient(["http://127.0.0.1:9"]), ConfigMapStrategy())  # never contacted: no plugin here reads it


def _attrs(op: Operation) -> Attributes:
    return attributes(op, STORE, {"metadata": {"name": "cm", "namespace": "ns"}}, None)


class Mutator(MutationInterface):
    operations = frozenset({Operation.CREATE})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def admit(self, a: Attributes) -> None:
        self.log.append("mutate")


class Checker(ValidationInterface):
    operations = frozenset({Operation.CREATE, Operation.UPDATE})

    def __init__(self, log: list[str], refuse: bool = False) -> None:
        self.log, self.refuse = log, refuse

    async def validate(self, a: Attributes) -> None:
        self.log.append("check")
        if self.refuse:
            raise errors.forbidden("configmaps", a.name, "no")


class Reserver(Reservation):
    operations = frozenset({Operation.CREATE})

    def __init__(self, log: list[str], tag: str) -> None:
        self.log, self.tag = log, tag

    async def reserve(self, a: Attributes) -> FinishFunc:
        self.log.append(f"reserve {self.tag}")

        async def finish(success: bool) -> None:
            self.log.append(f"finish {self.tag} {success}")
        return finish


def test_each_phase_runs_only_its_plugins_for_the_operations_they_handle():
    log: list[str] = []
    chain = AdmissionChain([Mutator(log), Checker(log)])

    async def main() -> None:
        await chain.admit(_attrs(Operation.CREATE))
        assert log == ["mutate"]
        await chain.admit(_attrs(Operation.UPDATE))  # the mutator handles CREATE only; the checker does not mutate
        assert log == ["mutate"]
        assert await chain.validate(_attrs(Operation.UPDATE)) is finish_nothing
        assert log == ["mutate", "check"]
        await chain.validate(_attrs(Operation.DELETE))
        assert log == ["mutate", "check"]
    asyncio.run(main())


def test_one_finish_ends_every_reservation_in_reverse_order():
    log: list[str] = []
    chain = AdmissionChain([Reserver(log, "a"), Reserver(log, "b")])

    async def main() -> None:
        finish = await chain.validate(_attrs(Operation.CREATE))
        assert log == ["reserve a", "reserve b"]
        await finish(True)
        assert log[2:] == ["finish b True", "finish a True"]
    asyncio.run(main())


def test_a_refusal_gives_back_what_earlier_plugins_reserved():
    log: list[str] = []
    chain = AdmissionChain([Reserver(log, "a"), Checker(log, refuse=True), Reserver(log, "c")])

    async def main() -> Any:
        with pytest.raises(errors.StatusError) as e:
            await chain.validate(_attrs(Operation.CREATE))
        return e.value
    refusal = asyncio.run(main())
    assert refusal.code == 403
    assert log == ["reserve a", "check", "finish a False"]  # c never reserved, a gave back
