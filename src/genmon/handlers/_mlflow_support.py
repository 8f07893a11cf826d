"""MLflow specifics the handler relies on: which stores the installed MLflow opens, metric keys, retryable errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from genmon.errors import MissingExtraError
from genmon.handlers._retry import RetryableError
from genmon.handlers._secrets import Redactor

# MLflow's rule for metric, param and tag keys (mlflow.utils.validation): word characters, _ - . / : and space.
_INVALID_KEY_CHARS = re.compile(r"[^\w\-./: ]")
MAX_KEY_LENGTH = 250  # MLflow's MAX_ENTITY_KEY_LENGTH
MAX_METRICS_PER_CALL = 1000  # MLflow's log_batch limit
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


def mlflow_key(name: str) -> str:
    """A metric, param or tag key MLflow accepts: other characters become ``_``, at most 250 characters.

    MLflow also refuses a key that a path would normalise to another name
    (``a//b``, ``/a``, ``a/``, ``./a``) or starts with ``..``: those path
    parts are dropped, and ``..`` becomes ``__``.
    """
    key = _INVALID_KEY_CHARS.sub("_", name)
    if "/" in key or key in (".", ".."):
        parts = ["__" if part == ".." else part for part in key.split("/") if part not in ("", ".")]
        key = "/".join(parts)
    if key.startswith(".."):  # MLflow refuses any key starting with ".."
        key = "__" + key[2:]
    key = key[:MAX_KEY_LENGTH].rstrip("/")
    return key or "_"


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


class StepError(Exception):
    """A step of a batch failed for good; ``delivered`` records of the batch got through before it."""

    def __init__(self, message: str, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered


def tracking_redactor(tracking_uri: str | None) -> Redactor:
    """Hides the tracking URI's credentials and query, and MLflow's token and password from the environment.

    MLflow's errors quote the URL they called (``API request to
    http://user:password@host/api/2.0/... failed``).
    """
    secrets = [os.environ.get(name, "") for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")]
    uri = tracking_uri if tracking_uri is not None else os.environ.get("MLFLOW_TRACKING_URI", "")
    return Redactor([s for s in secrets if s], [uri] if uri else [])


def classify(error: BaseException, delivered: int, redact: Callable[[str], str] = str) -> Exception:
    """A ``RetryableError`` for what is worth retrying (network, timeouts, MLflow's transient codes), else a ``StepError``.

    ``redact`` hides the sink's secrets before the text is cut to size, so no part of one is left showing.
    """
    text = f"MLflow {type(error).__name__}: {redact(str(error))[:500]}"
    code = getattr(error, "error_code", None)
    transient = isinstance(error, (OSError, TimeoutError)) or code in RETRY_CODES or is_requests_network_error(error)
    out: Exception = RetryableError(text) if transient else StepError(text, delivered)
    out.delivered = delivered  # type: ignore[attr-defined]
    return out


def experiment_id_for(client: Any, name: str | None, artifact_location: str | None, run_id: str | None) -> str:
    """The experiment to log into: the given run's, MLflow's Default (``"0"``) or ``name`` (created when missing)."""
    from mlflow.exceptions import MlflowException

    if run_id is not None:
        return str(client.get_run(run_id).info.experiment_id)
    if name is None:
        return "0"  # MLflow's Default experiment
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException:
        found = client.get_experiment_by_name(name)  # created meanwhile elsewhere
        if found is None:
            raise
        return str(found.experiment_id)
