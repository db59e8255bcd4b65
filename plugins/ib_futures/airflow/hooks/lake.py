"""``DeltaLakeHook``: the ``delta_lake`` connection, and the one way every component finds the lake.

The hook gathers what each source says (the caller's argument, the lake connection, the
environment, the configuration) and hands it to :func:`ib_futures.lake.storage.resolve_lake`,
which applies the documented precedence (argument > connection > ``IB_FUTURES_LAKE_URI`` >
``storage.lake_uri``). It runs where the work runs (a worker, the api-server, a cron job), so
a DAG file never freezes a lake URI at parse time.

The connection (type ``delta_lake``, default id ``delta_lake_default``):

* extra ``lake_uri``: a local path or ``s3://bucket/prefix``;
* login / password: the object store's access key id and secret access key;
* extras ``endpoint_url``, ``region_name``, ``allow_http``, ``storage_options`` (a JSON object
  of further non-secret object_store options); or ``aws_conn_id``, naming an Airflow AWS
  connection whose credentials to use instead of login/password.

A connection id given explicitly must exist; the default id may be absent (then the
environment and the configuration decide). Secret values are registered with Airflow's
secrets masker before anything is logged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from ib_futures.airflow.provider import (
    LAKE_CONN_TYPE,
    LAKE_UI_FIELD_BEHAVIOUR,
    ui_field_behaviour,
)

if TYPE_CHECKING:
    from ib_futures.core.config import FuturesConfig
    from ib_futures.lake.storage import LakeLocation, StorageOptions


class LakeConnectionError(ValueError):
    """The lake connection is missing or malformed; the message names the connection."""


class DeltaLakeHook(BaseHook):
    """Resolve the lake (URI and object-store options) for one component.

    :param lake_conn_id: the ``delta_lake`` connection; ``None``: ``delta_lake_default`` if
        it exists.
    :param lake_uri: the argument: beats the connection, the environment and the config.
    :param aws_conn_id: an AWS connection whose credentials beat the lake connection's.
    :param storage_options: non-secret object-store options; beat every other source.
    :param config: the configuration (its ``storage`` section is the last resort).
    """

    conn_name_attr = "lake_conn_id"
    default_conn_name = "delta_lake_default"
    conn_type = LAKE_CONN_TYPE
    hook_name = "Delta Lake (ib-futures lake)"

    def __init__(self, lake_conn_id: str | None = None, *, lake_uri: str | None = None,
                 aws_conn_id: str | None = None, storage_options: Mapping[str, Any] | None = None,
                 config: FuturesConfig | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        # "" (an unset template) means "not given", like None
        self.lake_conn_id, self.lake_uri = lake_conn_id or None, lake_uri or None
        self.aws_conn_id, self.storage_options = aws_conn_id or None, dict(storage_options or {})
        self._config = config

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden and relabelled connection form fields (declared in provider info)."""
        return ui_field_behaviour(LAKE_UI_FIELD_BEHAVIOUR)

    @cached_property
    def config(self) -> FuturesConfig:
        from ib_futures.core.config import load_config

        return self._config if self._config is not None else load_config()

    def _connection(self) -> Any | None:
        """The lake connection, or None when the default one is not defined."""
        conn_id = self.lake_conn_id or self.default_conn_name
        try:
            return self.get_connection(conn_id)
        except AirflowNotFoundException:
            if self.lake_conn_id and self.lake_conn_id != self.default_conn_name:
                raise LakeConnectionError(
                    f"lake connection {conn_id!r} is not defined (create it with conn_type "
                    f"{LAKE_CONN_TYPE!r}, or leave lake_conn_id unset)"
                ) from None
            return None

    def _aws_options(self, conn_id: str) -> StorageOptions:
        from ib_futures.lake.storage import storage_options_from_connection

        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise LakeConnectionError(f"AWS connection {conn_id!r} is not defined") from None
        return storage_options_from_connection(conn.login, conn.password, conn.extra_dejson)

    def _connection_options(self, conn: Any) -> StorageOptions:
        from ib_futures.lake.storage import storage_options_from_connection

        extra = dict(conn.extra_dejson or {})
        nested = extra.pop("storage_options", None) or {}
        if isinstance(nested, str):
            try:
                nested = json.loads(nested)
            except ValueError:
                nested = None
        if not isinstance(nested, Mapping):
            raise LakeConnectionError(
                f"lake connection {conn.conn_id!r}: extra storage_options must be a JSON "
                f"object, got {extra.get('storage_options')!r}"
            )
        aws_conn_id = extra.pop("aws_conn_id", None)
        extra.pop("lake_uri", None)
        options = {str(k): str(v) for k, v in nested.items()}
        if aws_conn_id:
            options.update(self._aws_options(str(aws_conn_id)))
        options.update(storage_options_from_connection(conn.login, conn.password, extra))
        return options

    @cached_property
    def location(self) -> LakeLocation:
        """The lake this hook's caller uses; resolved once, secrets masked."""
        from ib_futures.lake.storage import SECRET_KEYS, resolve_lake

        cfg = self.config
        conn = self._connection()
        conn_uri = (conn.extra_dejson or {}).get("lake_uri") if conn is not None else None
        argument_options = dict(self.storage_options)
        if self.aws_conn_id:
            argument_options.update(self._aws_options(self.aws_conn_id))
        location = resolve_lake(
            argument=self.lake_uri,
            connection=conn_uri,
            connection_id=conn.conn_id if conn is not None else None,
            configured=cfg.storage.lake_uri,
            base_dir=cfg.base_dir(),
            config_options=cfg.storage.storage_options,
            connection_options=self._connection_options(conn) if conn is not None else None,
            argument_options=argument_options,
        )
        secrets = [v for k, v in (location.storage_options or {}).items() if k in SECRET_KEYS]
        if secrets:
            from airflow.sdk.log import mask_secret

            for value in secrets:
                mask_secret(value)
        return location

    def get_conn(self) -> LakeLocation:
        """The resolved lake (URI, storage options, source)."""
        return self.location

    def test_connection(self) -> tuple[bool, str]:
        """List the lake's snapshot tables: ``(ok, message)`` for the UI's Test button."""
        try:
            from ib_futures.lake.schemas import ALL_TABLES
            from ib_futures.lake.storage import table_uri
            from ib_futures.lake.tables import open_table

            lake = self.location
            found = {
                spec.name: table.version()
                for spec in ALL_TABLES
                if (table := open_table(table_uri(lake.uri, spec.name), lake.storage_options))
                is not None
            }
        except Exception as exc:
            return False, f"lake not reachable: {exc}"
        tables = ", ".join(f"{n} v{v}" for n, v in found.items()) or "no tables yet"
        return True, f"lake {lake.describe()}: {tables}"
