"""How a check declares what it reads: `@check(needs=(STACKS, BITCOIND))`.

The declaration sits on the check itself, so the sources a check reads and the sources its
staleness is judged by cannot drift apart. The pipeline finds every registered check (by
importing the modules of this package), polls the union of their `needs`, and gives each one
an `Inputs` view: typed observations of exactly the sources it declared.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from signer_tui.model import Finding, Observation
from signer_tui.sources.keys import Source

if TYPE_CHECKING:
    from signer_tui.config import Profile, Settings

T = TypeVar("T")
Series = Sequence[tuple[datetime, float]]


class UndeclaredSource(LookupError):
    """A check read a source it did not declare: a bug caught by every test that runs it."""


class Inputs(Protocol):
    """What one check sees of one profile at one moment."""

    @property
    def profile(self) -> Profile: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def now(self) -> datetime: ...

    def get(self, source: Source[T]) -> Observation[T] | None:
        """The newest observation of a declared source (None: not polled yet)."""
        ...

    def configured(self, source: Source[Any]) -> bool:
        """False when the profile does not configure this source at all."""
        ...

    def series(self, name: str) -> Series:
        """A numeric series (tips, counters) kept from the declared sources' readings."""
        ...


CheckFn = Callable[[Inputs], list[Finding]]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    fn: CheckFn
    needs: tuple[Source[Any], ...]


REGISTRY: list[CheckSpec] = []


def check(*, needs: Sequence[Source[Any]]) -> Callable[[CheckFn], CheckFn]:
    """Register a check and the sources it reads."""

    def register(fn: CheckFn) -> CheckFn:
        name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
        if not any(spec.name == name for spec in REGISTRY):
            REGISTRY.append(CheckSpec(name, fn, tuple(needs)))
        return fn

    return register


def all_checks() -> list[CheckSpec]:
    """Every registered check: importing each module of this package registers its checks."""
    import signer_tui.checks as package

    modules = [i.name for i in pkgutil.iter_modules(package.__path__, package.__name__ + ".")]
    for name in modules:
        importlib.import_module(name)
    # Registration order is import order, which depends on what imported a check module
    # first; the panes list rows in check order, so fix it: by module name, then as defined.
    rank = {name: index for index, name in enumerate(sorted(modules))}
    return sorted(REGISTRY, key=lambda spec: rank.get(spec.fn.__module__, len(rank)))


def all_sources() -> list[Source[Any]]:
    """Every source some check reads, in a stable order (first declared first)."""
    seen: dict[int, Source[Any]] = {}
    for spec in all_checks():
        for source in spec.needs:
            seen.setdefault(id(source), source)
    return list(seen.values())
