"""The configuration: one YAML file, validated into a typed, frozen model.

``load_config()`` reads ``futures_config.yaml`` and returns a :class:`FuturesConfig`. Every
key, its default and its meaning are documented in docs/configuration.md. Validation is
strict (an integer must be an integer, not ``"5"``; unknown keys are refused) and every
problem is reported in one :class:`ConfigError` whose lines name the key path and the bad
value, e.g.::

    futures_config.yaml: collection.instruments[2]: unknown symbol 'XYZ' (known: ES, NQ, ...)
    futures_config.yaml: collection.interval_minutes: 7 is not a divisor of 60

Where the file is looked for when no path is given (first hit wins):

1. ``$IB_FUTURES_CONFIG`` (a file path; it must exist),
2. ``$AIRFLOW_HOME/include/config/futures_config.yaml`` (the Docker image layout),
3. ``<checkout>/include/config/futures_config.yaml``, i.e. ``Path(__file__).parents[3]``
   (running from the git checkout or with ``plugins/`` under the project root).

Importing this module is cheap: pydantic and PyYAML only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ib_futures.core.config_errors import CONFIG_FILENAME, ConfigError, error_lines
from ib_futures.core.config_sections import (
    SYMBOL_PATTERN,
    AlertsConfig,
    AnalysisSettings,
    BackfillConfig,
    CollectionConfig,
    ExtraClosure,
    HistoryPacingConfig,
    InstrumentSpec,
    NotifierConfig,
    RepairConfig,
    RetentionConfig,
    RollConfig,
    SessionConfig,
    StorageConfig,
    StrictModel,
    TimeWindow,
    default_instrument_specs,
)
from ib_futures.core.contracts import RollRule
from ib_futures.core.instruments import DEFAULT_PAIRS

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "AlertsConfig",
    "AnalysisSettings",
    "BackfillConfig",
    "CollectionConfig",
    "ConfigError",
    "ExtraClosure",
    "FuturesConfig",
    "HistoryPacingConfig",
    "InstrumentSpec",
    "NotifierConfig",
    "RepairConfig",
    "RetentionConfig",
    "RollConfig",
    "SessionConfig",
    "StorageConfig",
    "TimeWindow",
    "config_search_paths",
    "find_config_file",
    "load_config",
]

CONFIG_ENV = "IB_FUTURES_CONFIG"
_RELATIVE = Path("include") / "config" / CONFIG_FILENAME

# --------------------------------------------------------------------------- root


class FuturesConfig(StrictModel):
    """The whole configuration. ``FuturesConfig()`` is the documented default."""

    instruments: dict[str, InstrumentSpec] = Field(default_factory=default_instrument_specs)
    collection: CollectionConfig = Field(default_factory=CollectionConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    backfill: BackfillConfig = Field(default_factory=BackfillConfig)
    repair: RepairConfig = Field(default_factory=RepairConfig)

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_pairs(cls, data: Any) -> Any:
        """Without ``analysis.pairs``, the default pairs are those whose legs are collected."""
        if not isinstance(data, Mapping):
            return data
        collection = data.get("collection")
        analysis = data.get("analysis", {})
        if not isinstance(collection, Mapping) or not isinstance(analysis, Mapping):
            return data
        collected = collection.get("instruments")
        if "pairs" in analysis or not isinstance(collected, list):
            return data
        pairs = [list(p) for p in DEFAULT_PAIRS if p[0] in collected and p[1] in collected]
        return {**data, "analysis": {**analysis, "pairs": pairs}}

    @field_validator("instruments", mode="before")
    @classmethod
    def _merge_builtins(cls, v: Any) -> Any:
        """Entries given here add to, or replace, the built-in ES/NQ/RTY/SPY/QQQ/IWM."""
        if not isinstance(v, Mapping):
            return v
        merged: dict[Any, Any] = dict(default_instrument_specs())
        merged.update(v)
        return merged

    @field_validator("instruments")
    @classmethod
    def _symbol_names(cls, v: dict[str, InstrumentSpec]) -> dict[str, InstrumentSpec]:
        for sym in v:
            if not SYMBOL_PATTERN.match(sym):
                raise ValueError(f"symbol {sym!r} must be 1-10 upper-case letters or digits")
        return v

    @model_validator(mode="after")
    def _cross_check(self) -> FuturesConfig:
        problems: list[str] = []
        known = list(self.instruments)
        etfs = [s for s, i in self.instruments.items() if i.asset_class == "ETF"]
        for sym, spec in self.instruments.items():
            if spec.etf is not None and spec.etf not in etfs:
                problems.append(
                    f"instruments.{sym}.etf: {spec.etf!r} is not a defined ETF "
                    f"(ETFs: {', '.join(etfs) or 'none'})"
                )
        seen: set[str] = set()
        for i, sym in enumerate(self.collection.instruments):
            if sym not in self.instruments:
                problems.append(
                    f"collection.instruments[{i}]: unknown symbol {sym!r} (known: {', '.join(known)})"
                )
            elif sym in seen:
                problems.append(f"collection.instruments[{i}]: {sym!r} is listed twice")
            seen.add(sym)
        for i, (fut, etf) in enumerate(self.analysis.pair_tuples()):
            for pos, sym, want in ((0, fut, "FUT"), (1, etf, "ETF")):
                where = f"analysis.pairs[{i}][{pos}]"
                found = self.instruments.get(sym)
                if found is None:
                    problems.append(f"{where}: unknown symbol {sym!r} (known: {', '.join(known)})")
                elif found.asset_class != want:
                    kind = "a future" if want == "FUT" else "an ETF"
                    problems.append(f"{where}: {sym!r} is not {kind} (pairs are [FUTURE, ETF])")
                elif sym not in self.collection.instruments:
                    problems.append(f"{where}: {sym!r} is not collected (collection.instruments)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # ----------------------------------------------------------------- paths and overrides

    @property
    def source(self) -> Path | None:
        """The file this configuration was loaded from (``None`` when built in code)."""
        return self._source

    def base_dir(self) -> Path:
        """The directory relative local paths (``storage.lake_uri``, ``analysis.report_dir``)
        resolve against (the lake itself is resolved by ``ib_futures.lake.storage.resolve_lake``): the project root that holds ``include/config/<file>`` when the file
        lies there, else the config file's own directory; for a configuration built in code,
        ``$AIRFLOW_HOME`` if set, else the current directory."""
        if self._source is not None:
            parent = self._source.resolve().parent
            if parent.name == "config" and parent.parent.name == "include":
                return parent.parent.parent
            return parent
        home = os.environ.get("AIRFLOW_HOME")
        return Path(home) if home else Path.cwd()

    def resolve_path(self, value: str | Path) -> Path:
        """``value`` with ``~`` expanded, made absolute against :meth:`base_dir`."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir() / p

    def report_dir(self) -> Path:
        """``analysis.report_dir`` as an absolute path."""
        return self.resolve_path(self.analysis.report_dir)

    def roll_rule(self) -> RollRule:
        return self.collection.roll.to_rule()


# --------------------------------------------------------------------------- loading


def config_search_paths() -> list[Path]:
    """Where :func:`load_config` looks when no path is given, in order (see module doc)."""
    out: list[Path] = []
    env = os.environ.get(CONFIG_ENV, "").strip()
    if env:
        out.append(Path(env).expanduser())
    home = os.environ.get("AIRFLOW_HOME", "").strip()
    if home:
        out.append(Path(home).expanduser() / _RELATIVE)
    out.append(Path(__file__).resolve().parents[3] / _RELATIVE)
    return out


def find_config_file() -> Path:
    """The first existing file of :func:`config_search_paths`; ``$IB_FUTURES_CONFIG``, when
    set, must exist (a typo there must not silently fall back to another file)."""
    paths = config_search_paths()
    env = os.environ.get(CONFIG_ENV, "").strip()
    if env:
        if not paths[0].is_file():
            raise ConfigError([f"${CONFIG_ENV} points to {str(paths[0])!r}, which is not a file"])
        return paths[0]
    for p in paths:
        if p.is_file():
            return p
    raise ConfigError(
        [f"no configuration file found; looked at: {', '.join(str(p) for p in paths)}"]
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def parse_config(data: Any, source: str | Path | None = None) -> FuturesConfig:
    """Validate already-parsed YAML (a mapping or ``None``) into a :class:`FuturesConfig`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            [f"expected a mapping of sections at the top level, got {type(data).__name__}"], source
        )
    try:
        cfg = FuturesConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(error_lines(exc, FuturesConfig), source) from None
    if source is not None:
        cfg._source = Path(source).expanduser().resolve()
    return cfg


def load_config(path: str | Path | None = None) -> FuturesConfig:
    """Read and validate the configuration file (default: :func:`find_config_file`).

    Raises :class:`ConfigError` (a ``ValueError``) naming every bad key and value.
    """
    p = Path(path).expanduser() if path is not None else find_config_file()
    try:
        stat = p.stat()
        key = (str(p.resolve()), stat.st_mtime_ns, stat.st_size)
        if key in _CACHE:  # DAG files and tasks in one process share the parsed config
            return _CACHE[key]
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read {str(p)!r}: {exc.strerror or exc}"], p) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"invalid YAML: {where}{problem}"], p) from None
    cfg = parse_config(data, p)
    _CACHE.clear()  # keep one entry: the current file
    _CACHE[key] = cfg
    return cfg


# The model is frozen, so one parsed instance can be shared; keyed by path, mtime and size so
# an edited file is read again.
_CACHE: dict[tuple[str, int, int], FuturesConfig] = {}
