"""Progress for long imports: tqdm when it is installed, else a one-line counter on stderr."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def update(self, n: int, label: str) -> None: ...

    def close(self) -> None: ...


class Silent:
    def update(self, n: int, label: str) -> None:
        pass

    def close(self) -> None:
        pass


class CounterLine:
    """`label: N unit` rewritten in place at most ten times a second."""

    def __init__(self, unit: str, stream: TextIO = sys.stderr, total: int | None = None) -> None:
        self.unit = unit
        self.stream = stream
        self.total = total
        self.count = 0
        self._shown = 0.0
        self._label = ""

    def update(self, n: int, label: str) -> None:
        self.count += n
        self._label = label
        now = time.monotonic()
        if now - self._shown >= 0.1:
            self._shown = now
            self._write()

    def _write(self) -> None:
        of = f"/{self.total:,}" if self.total else ""
        self.stream.write(f"\r{self._label}: {self.count:,}{of} {self.unit}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        self._write()
        self.stream.write("\n")
        self.stream.flush()


class _Tqdm:
    def __init__(self, unit: str, total: int | None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit=f" {unit}", file=sys.stderr)

    def update(self, n: int, label: str) -> None:
        self.bar.set_description(label, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def progress_bar(unit: str, total: int | None = None) -> Progress:
    try:
        return _Tqdm(unit, total)
    except ImportError:
        return CounterLine(unit, total=total)
