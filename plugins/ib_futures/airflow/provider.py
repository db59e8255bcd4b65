"""Airflow provider registration: the ``ibkr`` and ``delta_lake`` connection types and hooks.

Airflow 3 registers custom connection types only through the ``apache_airflow_provider`` entry
point (``pyproject.toml``) pointing at :func:`get_provider_info`; ``package-name`` must equal the
distribution name. Since Airflow 3.2 the connection form is declared here (``conn-fields`` and
``ui-field-behaviour``) rather than by hook methods that need Flask-AppBuilder and wtforms.
"""

from __future__ import annotations

from typing import Any

from ib_futures import __version__

CONN_TYPE = "ibkr"

IBKR_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "client_id": {
        "label": "Client ID",
        "description": "Fixed API client id. Leave empty to lease one from the range (recommended).",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "client_id_range": {
        "label": "Client ID range",
        "description": "Inclusive range such as 100-899; give each worker host its own range.",
        "schema": {"type": ["string", "null"], "default": "100-899"},
    },
    "market_data_type": {
        "label": "Market data type",
        "description": "live, frozen, delayed or delayed_frozen (IB codes 1-4).",
        "schema": {
            "type": ["string", "null"],
            "default": "live",
            "enum": ["live", "frozen", "delayed", "delayed_frozen"],
        },
    },
    "delayed_fallback": {
        "label": "Fall back to delayed data",
        "description": "Retry as delayed data when live data is not subscribed (error 354).",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "connect_timeout": {
        "label": "Connect timeout (s)",
        "schema": {"type": ["number", "null"], "default": 10},
    },
    "request_timeout": {
        "label": "Request timeout (s)",
        "schema": {"type": ["number", "null"], "default": 15},
    },
    "snapshot_timeout": {
        "label": "Snapshot timeout (s)",
        "description": "IB may take up to 11 s to end a snapshot.",
        "schema": {"type": ["number", "null"], "default": 15},
    },
    "account": {
        "label": "Account",
        "description": "Only needed when the login manages several accounts.",
        "schema": {"type": ["string", "null"]},
    },
}

IBKR_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "password", "extra"],
    "relabeling": {"host": "IB Gateway / TWS host", "port": "API port"},
    "placeholders": {"host": "127.0.0.1", "port": "4002 (Gateway paper), 4001 (Gateway live)"},
}


LAKE_CONN_TYPE = "delta_lake"

LAKE_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "lake_uri": {
        "label": "Lake URI",
        "description": "Local path or s3://bucket/prefix; beats IB_FUTURES_LAKE_URI and the "
        "config's storage.lake_uri.",
        "schema": {"type": ["string", "null"]},
    },
    "endpoint_url": {
        "label": "Endpoint URL",
        "description": "S3-compatible endpoint (MinIO, moto); empty for AWS S3.",
        "schema": {"type": ["string", "null"]},
    },
    "region_name": {"label": "Region", "schema": {"type": ["string", "null"]}},
    "aws_conn_id": {
        "label": "AWS connection id",
        "description": "Take the credentials from this AWS connection instead of login/password.",
        "schema": {"type": ["string", "null"]},
    },
}

LAKE_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "host", "port"],
    "relabeling": {"login": "Access key id", "password": "Secret access key"},
    "placeholders": {
        "extra": '{"storage_options": {"AWS_ALLOW_HTTP": "true"}}',
    },
}


def ui_field_behaviour(declared: dict[str, Any]) -> dict[str, Any]:
    """The provider-info form declaration in the shape ``BaseHook.get_ui_field_behaviour``
    returns (older UIs and ``airflow connections`` read the hook method)."""
    return {key.replace("-", "_"): value for key, value in declared.items()}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "ib-futures",
        "name": "IB Futures",
        "description": "Interactive Brokers futures and ETF snapshots into Delta Lake.",
        "versions": [__version__],
        "connection-types": [
            {
                "hook-class-name": "ib_futures.airflow.hooks.ib.IBHook",
                "hook-name": "Interactive Brokers (IB Gateway / TWS)",
                "connection-type": CONN_TYPE,
                "conn-fields": IBKR_CONN_FIELDS,
                "ui-field-behaviour": IBKR_UI_FIELD_BEHAVIOUR,
            },
            {
                "hook-class-name": "ib_futures.airflow.hooks.lake.DeltaLakeHook",
                "hook-name": "Delta Lake (ib-futures lake)",
                "connection-type": LAKE_CONN_TYPE,
                "conn-fields": LAKE_CONN_FIELDS,
                "ui-field-behaviour": LAKE_UI_FIELD_BEHAVIOUR,
            },
        ],
    }
