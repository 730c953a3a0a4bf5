"""Objects that must stay on one thread (the embedded warehouse's SQLite connections are thread-bound),
used from many: every call runs on one worker thread of their own."""

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

T = TypeVar("T")


class ThreadConfiner:
    """One worker thread; objects built with `build` are created and called only there."""

    def __init__(self, name: str = "confined") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(self, call: Callable[[], T]) -> T:
        """`call()` on the worker thread; iterators it returns are read there, into a list."""

        def whole() -> Any:
            result = call()
            return list(result) if isinstance(result, Iterator) else result

        return cast(T, self._pool.submit(whole).result())

    def build(self, factory: Callable[[], T]) -> T:
        """The object `factory` makes, behind a proxy whose method calls all run on the worker thread."""
        return cast(T, _Proxy(self, self.run(factory)))


class _Proxy:
    def __init__(self, confiner: ThreadConfiner, target: object) -> None:
        self._confiner, self._target = confiner, target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def confined(*args: Any, **kwargs: Any) -> Any:
            return self._confiner.run(lambda: attribute(*args, **kwargs))

        return confined
