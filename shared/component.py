"""The life of a control-plane component process, shared by the scheduler and the
controller-manager: optionally win a Lease first (`--leader-elect`), run the work, stop cleanly on
SIGTERM/SIGINT, and exit non-zero when leadership is lost so a supervisor restarts the process,
as kube-scheduler and kube-controller-manager do."""
from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from .client import Client
from .leaderelection import LeaderElector


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def elector_from_flags(client: Client, args, identity: str, work: Callable[[], Awaitable[None]],
                       leader_gauge) -> LeaderElector:
    """A LeaderElector configured by upstream's --leader-elect-* flags that runs `work` while leading
    and keeps the `leader` gauge of the component's metrics current."""
    name = args.leader_elect_resource_name

    async def lead() -> None:
        leader_gauge.labels(name).set(1)
        await work()

    return LeaderElector(client, name, identity, args.leader_elect_resource_namespace,
                         lease_duration=args.leader_elect_lease_duration,
                         renew_deadline=args.leader_elect_renew_deadline,
                         retry_period=args.leader_elect_retry_period, on_started_leading=lead,
                         on_stopped_leading=lambda: leader_gauge.labels(name).set(0))


async def run_until_stopped(work: Callable[[], Awaitable[None]], stop: asyncio.Event, elector: LeaderElector | None,
                            log: logging.Logger, what: str) -> int:
    """Run `work` (under `elector` when given) until `stop` is set (0) or it ends by itself (1:
    leadership lost or the work died)."""
    main_task = asyncio.create_task(elector.run() if elector is not None else work())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({main_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    rc = 0
    if main_task in done:
        exc = main_task.exception()
        log.error(f"lost leadership or {what} ended", extra={"err": repr(exc) if exc else "leader election lost"})
        rc = 1
    else:
        log.info("shutting down")
        main_task.cancel()
        try:
            await main_task
        except asyncio.CancelledError:
            pass
        except Exception as e:  # noqa: BLE001 - shutting down anyway; say what the work died of
            log.warning(f"{what} ended with an error during shutdown", extra={"err": repr(e)[:200]})
    stopper.cancel()
    return rc


async def release(elector: LeaderElector | None, timeout: float = 3.0) -> None:
    """Give the Lease up so a standby takes over at once; bounded, as the apiserver may be gone."""
    if elector is None:
        return
    try:
        await asyncio.wait_for(elector.release(), timeout)
    except (asyncio.TimeoutError, Exception):  # noqa: BLE001
        pass
