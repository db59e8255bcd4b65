"""What every lake-facing operator shares: the lake's arguments, its hook, the configuration.

Like ``AwsBaseOperator`` in the Amazon provider, one base owns the arguments that locate the
system (here the lake: ``lake_uri``, ``lake_conn_id``, ``aws_conn_id``, ``storage_options``),
their ``template_fields`` and the hook built from them, so every operator resolves the lake the
same way (``DeltaLakeHook``, precedence in ``ib_futures.lake.storage``) and in the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ib_futures.airflow.hooks.lake import DeltaLakeHook
    from ib_futures.core.config import FuturesConfig
    from ib_futures.lake.storage import LakeLocation

LAKE_TEMPLATE_FIELDS: tuple[str, ...] = ("lake_uri", "lake_conn_id", "aws_conn_id", "storage_options")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", "", "none"})


def lake_template_fields(*fields: str) -> tuple[str, ...]:
    """An operator's own template fields followed by the lake's."""
    return (*fields, *LAKE_TEMPLATE_FIELDS)


class LakeBaseOperator(BaseOperator):
    """Base of the operators that read or write the lake.

    :param lake_uri: the lake (a path or ``s3://bucket/prefix``) (templated); beats the lake
        connection, ``IB_FUTURES_LAKE_URI`` and the config's ``storage.lake_uri``.
    :param lake_conn_id: the ``delta_lake`` connection (templated); default
        ``delta_lake_default`` when it exists.
    :param aws_conn_id: an AWS connection with the object store's credentials (templated).
    :param storage_options: non-secret object-store options (templated).
    :param config_path: path of ``futures_config.yaml``; default lookup as in ``load_config``.
    """

    template_fields: Sequence[str] = LAKE_TEMPLATE_FIELDS

    def __init__(self, *, lake_uri: str | None = None, lake_conn_id: str | None = None,
                 aws_conn_id: str | None = None, storage_options: Mapping[str, str] | None = None,
                 config_path: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.lake_uri, self.lake_conn_id, self.aws_conn_id = lake_uri, lake_conn_id, aws_conn_id
        self.storage_options, self.config_path = storage_options, config_path

    @cached_property
    def config(self) -> FuturesConfig:
        from ib_futures.core.config import load_config

        return load_config(self.config_path)

    @cached_property
    def lake_hook(self) -> DeltaLakeHook:
        from ib_futures.airflow.hooks.lake import DeltaLakeHook

        return DeltaLakeHook(
            self.lake_conn_id,
            lake_uri=self.lake_uri,
            aws_conn_id=self.aws_conn_id,
            storage_options=self.storage_options,
            config=self.config,
        )

    @cached_property
    def lake(self) -> LakeLocation:
        """The resolved lake; logged once (secrets redacted)."""
        location = self.lake_hook.location
        self.log.info("lake: %s", location.describe())
        return location


def as_bool(value: Any, name: str) -> bool:
    """A templated flag: ``"{{ params.dry_run }}"`` renders to ``"True"``/``"False"``."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (true/false)")


def as_int(value: Any, name: str) -> int:
    """A templated integer (rendered templates are strings)."""
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not an integer")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is not an integer") from None


def task_source(context: Context) -> str | None:
    """``dag/run/task#tryN``: recorded with each commit, so a row's writer can be traced."""
    ti = context.get("ti")
    if ti is None:
        return None
    parts = [str(getattr(ti, a, "") or "") for a in ("dag_id", "run_id", "task_id")]
    return "/".join(parts) + f"#try{getattr(ti, 'try_number', '?')}"
