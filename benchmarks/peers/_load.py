"""How busy the machine is apart from this benchmark: CPU kept busy by processes outside our process tree."""

from __future__ import annotations

import os
import threading
import time
from typing import Self

from ._harness import _cpu_of, _descendants

_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all CPUs spent busy since boot (``/proc/stat``: everything but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _TICK


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``root`` and each live descendant, by pid (gone ones left out)."""
    return {pid: cpu for pid in (root, *_descendants(root)) if (cpu := _cpu_of(pid))}


def idle_busy(seconds: float = 1.0) -> float:
    """Cores kept busy over ``seconds`` while this benchmark runs nothing but this sample: others' load."""
    before, t0 = machine_busy(), time.monotonic()
    time.sleep(seconds)
    return (machine_busy() - before) / (time.monotonic() - t0)


class OthersSampler:
    """Averages, while running, the cores busy outside this process and its descendants.

    Samples every ``interval`` seconds: the machine's busy time minus what our tree used (a process
    that exits between samples loses its last interval to "others": at most ``interval`` of one core).
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.busy = 0.0  # cores-seconds of others
        self.wall = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="others-load", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cores(self) -> float:
        """Mean cores busy outside our tree while sampled."""
        return self.busy / self.wall if self.wall else 0.0

    def _run(self) -> None:
        me = os.getpid()
        machine, ours, at = machine_busy(), _tree_cpu(me), time.monotonic()
        while not self._stop.wait(self.interval):
            machine2, ours2, at2 = machine_busy(), _tree_cpu(me), time.monotonic()
            used = sum(value - ours[pid] for pid, value in ours2.items() if pid in ours)
            used += sum(value for pid, value in ours2.items() if pid not in ours)  # started meanwhile
            self.busy += max(0.0, (machine2 - machine) - used)
            self.wall += at2 - at
            machine, ours, at = machine2, ours2, at2
