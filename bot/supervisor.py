"""Worker processes under `whybot serve`: started with the server, restarted if they die, and stopped
with it (SIGTERM, then the grace period, then SIGKILL).

Processes, not threads: retrieval is CPU-bound Python, and a thread would hold the GIL the acking
loop needs (measured in bench/slack_ack.py; see BENCHMARKS.md). Each process costs its own copy of
the search index (about 1 GB per million messages with the in-process engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class WorkerSupervisor:
    def __init__(self, count: int, *, args: Sequence[str] = (), grace_s: float = 10.0,
                 env: dict[str, str] | None = None) -> None:
        self.count = count
        self.args = list(args)
        self.grace_s = grace_s
        self.env = env
        self.processes: list[asyncio.subprocess.Process | None] = [None] * count
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        for slot in range(self.count):
            await self._spawn(slot)
            self._watchers.append(asyncio.create_task(self._watch(slot), name=f"worker-{slot}-watch"))

    async def _spawn(self, slot: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "worker", *self.args, env=self.env or dict(os.environ),
            start_new_session=True)  # Ctrl+C goes to serve, which stops the workers in order
        self.processes[slot] = process
        log.info("worker %d started (pid %d)", slot, process.pid)

    async def _watch(self, slot: int) -> None:
        failures = 0
        while not self._stopping:
            process = self.processes[slot]
            assert process is not None
            code = await process.wait()
            if self._stopping:
                return
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            log.error("worker %d (pid %d) exited with %s; its turns are taken again after their lease; "
                      "restarting in %.0fs", slot, process.pid, code, delay)
            failures += 1
            await asyncio.sleep(delay)
            if not self._stopping:
                await self._spawn(slot)

    async def stop(self) -> None:
        """SIGTERM: each worker stops claiming and finishes or hands back its turns within the grace."""
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        running = [p for p in self.processes if p is not None and p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), self.grace_s + 5)
            except TimeoutError:
                log.error("worker pid %d did not stop in time; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
