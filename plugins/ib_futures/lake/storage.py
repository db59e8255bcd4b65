"""Where the lake lives and how to reach it: URI resolution and object-store options.

The lake URI comes from the configuration and is overridden by ``IB_FUTURES_LAKE_URI`` (a local
path or an object-store URI such as ``s3://bucket/prefix``). Credentials for ``s3://`` come from
an Airflow connection (the operator reads it and calls :func:`storage_options_from_connection`)
or from the standard ``AWS_*`` environment variables (:func:`storage_options_from_env`); never
from code. :func:`redact` is what may be logged.

The option keys are object_store's (delta-rs and polars share them): ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
``AWS_ALLOW_HTTP``. S3 commits in delta-rs 1.x use conditional PUTs (If-None-Match), so no lock
table is needed; the store must support conditional writes (AWS S3 and moto do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def resolve_lake_uri(
    configured: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The lake URI: ``IB_FUTURES_LAKE_URI`` when set and non-empty, else ``configured``.

    Local paths are made absolute (``~`` expanded); ``file://`` URIs become paths.

    :raises ValueError: when neither is given.
    """
    env = os.environ if environ is None else environ
    uri = (env.get(LAKE_URI_ENV) or "").strip() or (configured or "").strip()
    if not uri:
        raise ValueError(
            f"no lake URI: pass lake_uri (the config's storage URI) or set {LAKE_URI_ENV}"
        )
    if is_object_store(uri):
        return uri.rstrip("/")
    if uri.startswith("file://"):
        uri = urlparse(uri).path
    return os.path.abspath(os.path.expanduser(uri))


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
