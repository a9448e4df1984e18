"""`$?` in the fake containers' shell: the exit status of the last command, as sh has it."""
from __future__ import annotations

import asyncio

from kubeling.services.node.kubelet.program import Context, Process


def test_dollar_question_mark_is_the_last_exit_status():
    out: list[str] = []

    async def serve() -> None:
        await asyncio.Event().wait()
    ctx = Context(log=out.append, env={}, hostname="h", serve=serve)
    code = asyncio.run(Process(["sh", "-c", "false; echo a=$?; true && echo b=$?; nosuch; echo c=$?; exit 3"],
                               ctx).run())
    assert code == 3
    assert out == ["a=1", "b=0", "sh: nosuch: not found", "c=127"]
