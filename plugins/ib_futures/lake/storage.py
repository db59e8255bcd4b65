"""Where the lake lives and how to reach it: the one precedence, and object-store options.

:func:`resolve_lake` is the only place that decides which lake a component uses. Every entry
point (the operators, the freshness check and its CLI, the weekly report, the UI plugin, the
demo) reaches it through ``ib_futures.airflow.hooks.lake.DeltaLakeHook``, in the process that
does the work (a worker, the api-server), never when a DAG file is parsed. The precedence,
first given wins:

1. the **argument** (an operator's ``lake_uri``, the CLI's ``--lake``),
2. the **lake connection** (``delta_lake`` connection type, its ``lake_uri`` field),
3. the environment variable ``IB_FUTURES_LAKE_URI``,
4. the **configuration**'s ``storage.lake_uri``.

Object-store options layer the same way, lowest first: the configuration's non-secret
``storage.storage_options``, the ``AWS_*`` environment, the lake connection (its credentials
or the AWS connection it names), the argument's ``storage_options``. Credentials never come
from code; :func:`redact` is what may be logged.

The option keys are object_store's (delta-rs and polars share them): ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
``AWS_ALLOW_HTTP``. S3 commits in delta-rs 1.x use conditional PUTs (If-None-Match), so no lock
table is needed; the store must support conditional writes (AWS S3 and moto do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

LAKE_URI_ENV = "IB_FUTURES_LAKE_URI"

OBJECT_STORE_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "azure"})

#: option keys whose values are secrets: masked in Airflow, redacted in logs
SECRET_KEYS = frozenset({"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})

_ENV_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWS_ACCESS_KEY_ID", ("AWS_ACCESS_KEY_ID",)),
    ("AWS_SECRET_ACCESS_KEY", ("AWS_SECRET_ACCESS_KEY",)),
    ("AWS_SESSION_TOKEN", ("AWS_SESSION_TOKEN",)),
    ("AWS_REGION", ("AWS_REGION", "AWS_DEFAULT_REGION")),
    ("AWS_ENDPOINT_URL", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")),
    ("AWS_ALLOW_HTTP", ("AWS_ALLOW_HTTP",)),
)

StorageOptions = dict[str, str]


@dataclass(frozen=True)
class LakeLocation:
    """A resolved lake: its URI, the object-store options to reach it, and where it came from.

    ``source`` is ``"argument"``, ``"connection <id>"``, ``"environment"`` or ``"config"``.
    ``storage_options`` is ``None`` for a local lake.
    """

    uri: str
    storage_options: StorageOptions | None = None
    source: str = "argument"

    def describe(self) -> str:
        """For logs: the URI, its source and the options with secrets redacted."""
        opts = f", options {redact(self.storage_options)}" if self.storage_options else ""
        return f"{self.uri} (from {self.source}{opts})"


def normalize_lake_uri(uri: str, base_dir: str | os.PathLike[str] | None = None) -> str:
    """An object-store URI without its trailing slash, or an absolute local path.

    ``file://`` URIs become paths, ``~`` is expanded, and a relative path is taken relative to
    ``base_dir`` (the configuration's project root) or the working directory.
    """
    uri = uri.strip()
    if is_object_store(uri):
        return uri.rstrip("/")
    if uri.startswith("file://"):
        uri = urlparse(uri).path
    path = os.path.expanduser(uri)
    if not os.path.isabs(path) and base_dir is not None:
        path = os.path.join(os.fspath(base_dir), path)
    return os.path.abspath(path)


def resolve_lake(
    *,
    argument: str | None = None,
    connection: str | None = None,
    connection_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    configured: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    config_options: Mapping[str, str] | None = None,
    connection_options: Mapping[str, str] | None = None,
    argument_options: Mapping[str, str] | None = None,
) -> LakeLocation:
    """The lake by the module's precedence (argument > connection > environment > config).

    Object-store options (an object-store lake only) layer the same way, lowest first: the
    config's, the ``AWS_*`` environment's, the connection's, the argument's.

    :raises ValueError: when no source names a lake.
    """
    env = os.environ if environ is None else environ
    candidates = (
        (argument, "argument"),
        (connection, f"connection {connection_id}"),
        (env.get(LAKE_URI_ENV), "environment"),
        (configured, "config"),
    )
    chosen = next(((v, s) for v, s in candidates if v is not None and str(v).strip()), None)
    if chosen is None:
        raise ValueError(
            "no lake URI: pass lake_uri, set the lake connection's lake_uri, set "
            f"{LAKE_URI_ENV}, or set storage.lake_uri in the configuration"
        )
    uri, source = normalize_lake_uri(str(chosen[0]), base_dir), chosen[1]
    if not is_object_store(uri):
        return LakeLocation(uri, None, source)
    layers = (config_options, storage_options_from_env(uri, env), connection_options,
              argument_options)  # fmt: skip
    options: StorageOptions = {}
    for layer in layers:
        options.update({k: str(v) for k, v in (layer or {}).items() if v not in (None, "")})
    return LakeLocation(uri, _finish(options), source)


def is_object_store(uri: str) -> bool:
    """True for ``s3://``-style URIs, False for local paths."""
    scheme = urlparse(uri).scheme.lower()
    return scheme in OBJECT_STORE_SCHEMES


def table_uri(lake_uri: str, table: str) -> str:
    """The URI of one table under the lake."""
    if not table or "/" in table or table.startswith("."):
        raise ValueError(f"invalid table name {table!r}")
    return f"{lake_uri.rstrip('/')}/{table}"


def storage_options_from_env(
    lake_uri: str, environ: Mapping[str, str] | None = None
) -> StorageOptions | None:
    """Object-store options from the ``AWS_*`` environment; ``None`` for a local lake.

    delta-rs would read most of these itself; collecting them explicitly gives polars and
    delta-rs the same view and turns on ``AWS_ALLOW_HTTP`` for an ``http://`` endpoint.
    """
    if not is_object_store(lake_uri):
        return None
    env = os.environ if environ is None else environ
    opts: StorageOptions = {}
    for key, names in _ENV_KEYS:
        for name in names:
            if env.get(name):
                opts[key] = env[name]
                break
    return _finish(opts)


def storage_options_from_connection(
    login: str | None, password: str | None, extra: Mapping[str, Any] | None
) -> StorageOptions:
    """Object-store options from an Airflow connection's fields (AWS connection layout).

    ``login`` is the access key id, ``password`` the secret access key; extras
    ``endpoint_url``, ``region_name`` (or ``region``), ``aws_session_token``, ``allow_http``.
    Extras already spelled as object_store keys (``AWS_...``) are passed through.
    """
    extra = dict(extra or {})
    opts: StorageOptions = {}
    if login:
        opts["AWS_ACCESS_KEY_ID"] = login
    if password:
        opts["AWS_SECRET_ACCESS_KEY"] = password
    aliases = {
        "endpoint_url": "AWS_ENDPOINT_URL",
        "region_name": "AWS_REGION",
        "region": "AWS_REGION",
        "aws_session_token": "AWS_SESSION_TOKEN",
        "allow_http": "AWS_ALLOW_HTTP",
    }
    for name, key in aliases.items():
        value = extra.get(name)
        if value not in (None, "") and key not in opts:
            opts[key] = str(value).lower() if isinstance(value, bool) else str(value)
    for name, value in extra.items():
        if name.upper().startswith("AWS_") and value not in (None, ""):
            opts.setdefault(name.upper(), str(value))
    return _finish(opts)


def _finish(opts: StorageOptions) -> StorageOptions:
    endpoint = opts.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith("http://"):
        opts.setdefault("AWS_ALLOW_HTTP", "true")
    return opts


def redact(options: Mapping[str, str] | None) -> dict[str, str]:
    """The options with secret values replaced, for logs and error messages."""
    return {
        k: ("***" if k in SECRET_KEYS or "SECRET" in k or "TOKEN" in k else v)
        for k, v in (options or {}).items()
    }
