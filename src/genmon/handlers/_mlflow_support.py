"""MLflow specifics the handler relies on: which stores the installed MLflow opens, metric keys, retryable errors."""

from __future__ import annotations

import re

from genmon.errors import MissingExtraError

_INVALID_KEY_CHARS = re.compile(r"[^a-zA-Z0-9_\-./: ]")
# Stores that mlflow-skinny cannot open (it has no SQLAlchemy, no alembic, no file store).
_LOCAL_STORE_SCHEMES = frozenset({"", "file", "sqlite", "postgresql", "mysql", "mssql"})
# MLflow error codes worth retrying; anything else (bad parameter, not found) is not.
RETRY_CODES = frozenset(
    {
        "TEMPORARILY_UNAVAILABLE",
        "INTERNAL_ERROR",
        "REQUEST_LIMIT_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "ABORTED",
        "DEADLINE_EXCEEDED",
    }
)


def mlflow_metric_key(name: str) -> str:
    """A metric name MLflow accepts: other characters become ``_``, at most 250 characters."""
    return (_INVALID_KEY_CHARS.sub("_", name) or "_")[:250]


def check_store_supported(tracking_uri: str | None) -> None:
    """Refuse, at construction, a local or database store that the installed MLflow cannot open.

    ``genmon[mlflow]`` brings mlflow-skinny, enough for a tracking server
    (``http://...``); a ``sqlite:``, file or database URI (MLflow's default is
    ``sqlite:///mlflow.db``) needs the full ``mlflow`` package. Without this
    check every record would be dropped later while the program exits 0.
    """
    from urllib.parse import urlsplit

    uri = tracking_uri
    if uri is None:
        from mlflow.tracking._tracking_service.utils import get_tracking_uri

        uri = get_tracking_uri()
    scheme = urlsplit(str(uri)).scheme.split("+")[0].lower()
    if len(scheme) == 1:  # a Windows drive letter: a local path
        scheme = ""
    if scheme in _LOCAL_STORE_SCHEMES and not full_mlflow_installed():
        raise MissingExtraError(
            "mlflow",
            "mlflow",
            f"MlflowHandler: the store {uri!r} needs the full mlflow package, not only mlflow-skinny "
            "(genmon[mlflow]): pip install mlflow",
        )


def full_mlflow_installed() -> bool:
    """True when the full ``mlflow`` distribution is installed (not only ``mlflow-skinny``)."""
    import importlib.metadata

    try:
        importlib.metadata.distribution("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def is_requests_network_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("requests", "urllib3")) and type(error).__name__ in (
        "ConnectionError",
        "Timeout",
        "ReadTimeout",
        "ConnectTimeout",
        "ProtocolError",
        "MaxRetryError",
    )
