"""A thread-safe least-recently-used map bounded by the bytes of its values.

Serving keeps what the backbone made of recently seen images here, so a test suite that sends
the same image again and again pays decode and backbone once. No numpy import: the server holds
one from start-up, before the ML stack is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class LruCache:
    def __init__(self, capacity_bytes: int = 0):
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        """Keep `value` (`size` bytes); the least recently used entries make room for it. A value
        larger than the whole capacity is not kept."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.capacity_bytes:
                return
            self._entries[key] = (value, size)
            self._bytes += size
            self._shrink()

    def resize(self, capacity_bytes: int) -> None:
        with self._lock:
            self.capacity_bytes = capacity_bytes
            self._shrink()

    def _shrink(self) -> None:
        while self._bytes > self.capacity_bytes and self._entries:
            _, (_, size) = self._entries.popitem(last=False)
            self._bytes -= size

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
