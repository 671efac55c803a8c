"""One registry of search methods: register, create by name, list.

Built-ins are named here and imported only when asked for. Third-party
methods arrive through the entry-point group ``nasbench_sd.methods``
(``name = "package.module:Class"`` in the plugin's pyproject), read lazily and
once per process. A name that two sources claim is an error, never a silent
overwrite.
"""

from __future__ import annotations

import importlib
from importlib import metadata

from nasbench_sd.errors import UserError
from nasbench_sd.methods.base import SearchMethod

ENTRY_POINT_GROUP = "nasbench_sd.methods"

#: Built-in methods: name -> "module:Class" (imported on first use).
BUILTINS: dict[str, str] = {
    "darts-v1": "nasbench_sd.methods.darts:DartsV1",
    "darts-v2": "nasbench_sd.methods.darts:DartsV2",
    "gdas": "nasbench_sd.methods.gdas:GDAS",
    "pc-darts": "nasbench_sd.methods.pcdarts:PCDarts",
    "sd-darts": "nasbench_sd.methods.sddarts:SDDarts",
    "darts-minus": "nasbench_sd.methods.darts_minus:DartsMinus",
    "beta-darts": "nasbench_sd.methods.beta_darts:BetaDarts",
    "random": "nasbench_sd.methods.random_search:RandomSearch",
    "snas": "nasbench_sd.methods.snas:SNAS",
    "dsnas": "nasbench_sd.methods.dsnas:DSNAS",
    "drnas": "nasbench_sd.methods.drnas:DrNAS",
    "idarts": "nasbench_sd.methods.idarts:IDarts",
    "rsps": "nasbench_sd.methods.rsps:RSPS",
}

_sources: dict[str, str] | None = None  # name -> "module:Class" or "<registered>"
_loaded: dict[str, type[SearchMethod]] = {}


class RegistryError(UserError):
    """A method name is unknown or claimed twice."""


def _discover() -> dict[str, str]:
    global _sources
    if _sources is None:
        sources = dict(BUILTINS)
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in sources:
                raise RegistryError(
                    f"method name {ep.name!r} from plugin {ep.value!r} clashes with {sources[ep.name]!r}"
                )
            sources[ep.name] = ep.value
        _sources = sources
    return _sources


def register(cls: type[SearchMethod]) -> type[SearchMethod]:
    """Register a method class in this process (also usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, SearchMethod)) or not cls.name:
        raise RegistryError(f"{cls!r} is not a SearchMethod subclass with a name")
    sources = _discover()
    if cls.name in sources and _loaded.get(cls.name) is not cls:
        raise RegistryError(f"method name {cls.name!r} is already registered by {sources[cls.name]!r}")
    sources[cls.name] = f"{cls.__module__}:{cls.__qualname__}"
    _loaded[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a method registered with :func:`register` (for tests and notebooks)."""
    if name in BUILTINS:
        raise RegistryError(f"cannot unregister built-in method {name!r}")
    _discover().pop(name, None)
    _loaded.pop(name, None)


def list_methods() -> list[str]:
    """Names of all available methods (built-ins and plugins), sorted."""
    return sorted(_discover())


def get_method(name: str) -> type[SearchMethod]:
    """The method class registered under ``name``."""
    sources = _discover()
    if name not in sources:
        raise RegistryError(f"unknown method {name!r} (available: {', '.join(sorted(sources))})")
    if name not in _loaded:
        module, _, attr = sources[name].partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise RegistryError(f"cannot load method {name!r} from {sources[name]!r}: {e}") from None
        if not (isinstance(cls, type) and issubclass(cls, SearchMethod)):
            raise RegistryError(f"{sources[name]!r} (method {name!r}) is not a SearchMethod subclass")
        if cls.name != name:
            raise RegistryError(f"{sources[name]!r} is registered as {name!r} but names itself {cls.name!r}")
        _loaded[name] = cls
    return _loaded[name]


def create_method(name: str, config=None, seed: int = 0, seeds: tuple[int, ...] | None = None) -> SearchMethod:
    """An instance of method ``name`` (default config when ``config`` is None) for run ``seed``,
    or seed-batched for ``seeds`` (refused with the method's reason when it cannot batch)."""
    cls = get_method(name)
    if seeds is None:
        return cls(config, seed)
    config = config if config is not None else cls.Config()
    reason = cls.seed_batching_refusal(config)
    if reason is not None:
        raise UserError(f"{name} cannot batch seeds: {reason}")
    return cls(config, seeds=tuple(seeds))
