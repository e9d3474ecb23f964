"""Every setting in one place: CLI flags > FAKEREK_* environment variables > defaults.

Each field of `Settings` is at once a `fakerek serve --flag`, a `FAKEREK_FLAG` variable and, when
marked `runtime`, a key of `GET/POST /_fakerek/config` (delays are grouped there under `delays`).
The CLI, the environment reader, the control API and the README table are all derived from here.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = [
    "BACKBONES",
    "DELAY_KEYS",
    "LOG_LEVELS",
    "TIMINGS",
    "Backbone",
    "DelayKey",
    "LogLevel",
    "RuntimeConfig",
    "SettingError",
    "Settings",
    "Timing",
    "from_sources",
]

Timing = Literal["instant", "realistic"]
LogLevel = Literal["debug", "info", "warning", "error"]
DelayKey = Literal["training", "starting", "stopping", "deleting", "dataset", "copying"]
Backbone = Literal["int8", "float32"]  # precisions of the frozen backbone
TIMINGS: tuple[Timing, ...] = get_args(Timing)
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)
DELAY_KEYS: tuple[DelayKey, ...] = get_args(DelayKey)
BACKBONES: tuple[Backbone, ...] = get_args(Backbone)
ENV_PREFIX = "FAKEREK_"
# Bounds every number setting keeps, so that times and sizes computed from them stay within
# SQLite's 64-bit integers: seconds up to about 31 years, counts and sizes up to 2**62.
MAX_SECONDS = 1_000_000_000
MAX_INTEGER = 2**62
MAX_GRACE_DAYS = 3650  # an adapter's grace period, at most (about ten years)


class SettingError(ValueError):
    """A setting has a value it cannot take; the message names the setting."""


def _default_data_dir() -> str:
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(base, "fakerek")


def _default_cache_dir() -> str:
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return os.path.join(base, "fakerek")


def _setting(
    default: Any,
    help: str,
    *,
    runtime: bool = False,
    choices: tuple[str, ...] = (),
    nullable: bool = False,
) -> Any:
    meta = {"help": help, "runtime": runtime, "choices": choices, "nullable": nullable}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Settings:
    host: str = _setting("127.0.0.1", "Address to bind (the Docker image uses 0.0.0.0).")
    port: int = _setting(4567, "TCP port; 0 picks a free one (the ready line prints it).")
    allowed_hosts: str = _setting(
        "",
        "Comma-separated names a request's Host may carry besides loopback names and addresses "
        "and the bound address (`*.example.test` for its subdomains, `*` for any): the name "
        "containers reach fakerek by, for one.",
    )
    cors_origins: str = _setting(
        "",
        "Comma-separated origins (`http://localhost:3000`; `*` for any) whose web pages may "
        "call the Rekognition endpoint and S3 from a browser; empty = none.",
    )
    data_dir: str = _setting(_default_data_dir, "Directory holding the SQLite state and artefacts.")
    cache_dir: str = _setting(
        _default_cache_dir,
        "Directory, shared by every data directory, for files fakerek derives and can always "
        "derive again (the int8 backbone graphs, 4 MB each, finished trainings, see "
        "--model-cache-mb, and classifiers' detection features, see --detection-store-mb); "
        "empty = none.",
    )
    account_id: str = _setting(
        "123456789012", "Account of callers whose access key id is not exactly 12 digits."
    )
    region: str = _setting("us-east-1", "Region used when a request carries no SigV4 scope.")
    threads: int = _setting(8, "Worker threads serving requests.")
    connection_limit: int = _setting(
        1000, "Most client connections open at once; more wait to be accepted."
    )
    idle_timeout: float = _setting(
        60.0, "Seconds a connection may stay idle between requests before it is closed."
    )
    request_header_timeout: float = _setting(
        10.0, "Seconds a client may take to send a request's headers before it is dropped."
    )
    max_body_bytes: int = _setting(
        16 * 1024 * 1024, "Largest Rekognition request body accepted; larger ones get HTTP 413."
    )
    log_level: LogLevel = _setting(
        "info", "Logging level; info logs one line per request.", choices=LOG_LEVELS
    )
    timing: Timing = _setting(
        "instant",
        "instant: asynchronous work is finished by the next read; realistic: intermediate "
        "statuses last for the delays below.",
        runtime=True,
        choices=TIMINGS,
    )
    delay_training: float = _setting(
        60.0, "Seconds a training takes in realistic timing.", runtime=True
    )
    delay_starting: float = _setting(
        30.0, "Seconds STARTING lasts in realistic timing.", runtime=True
    )
    delay_stopping: float = _setting(
        10.0, "Seconds STOPPING lasts in realistic timing.", runtime=True
    )
    delay_deleting: float = _setting(
        5.0, "Seconds DELETING / DELETE_IN_PROGRESS last in realistic timing.", runtime=True
    )
    delay_dataset: float = _setting(
        5.0, "Seconds a dataset create/update/distribute takes in realistic timing.", runtime=True
    )
    delay_copying: float = _setting(
        30.0, "Seconds COPYING_IN_PROGRESS lasts in realistic timing.", runtime=True
    )
    max_wait_seconds: float = _setting(
        300.0,
        "In instant timing, longest a call waits for running work (an import) to end; also "
        "longest an advance of the clock waits for the work it makes due.",
        runtime=True,
    )
    manifest_max_bytes: int = _setting(
        1024**3, "Largest manifest accepted, in bytes.", runtime=True
    )
    manifest_max_rows: int = _setting(
        250_000, "Most lines in a manifest or entries in a dataset.", runtime=True
    )
    manifest_max_labels: int = _setting(250, "Most distinct labels in a dataset.", runtime=True)
    manifest_max_line_chars: int = _setting(
        100_000, "Longest JSON line of a manifest.", runtime=True
    )
    max_boxes_per_image: int = _setting(
        50, "Most bounding boxes on one manifest line.", runtime=True
    )
    invalid_row_threshold: float = _setting(
        0.20, "Share of bad lines above which an import (or a training) fails.", runtime=True
    )
    s3_endpoint_url: str = _setting(
        "",
        "Read and write users' objects on this S3-compatible endpoint instead of serving "
        "S3 on fakerek's own port.",
    )
    s3_denied_buckets: str = _setting(
        "",
        "Comma-separated buckets whose objects fakerek may not read (to test permission errors).",
        runtime=True,
    )
    max_inference_units: int = _setting(
        10,
        "Most inference units a model may be started with (LimitExceededException above).",
        runtime=True,
    )
    tps_per_inference_unit: float | None = _setting(
        None,
        "Calls per second one inference unit serves; empty / none / JSON null = "
        "unlimited (ProvisionedThroughputExceededException above).",
        runtime=True,
        nullable=True,
    )
    autoscale_idle_seconds: float = _setting(
        300.0, "Seconds without throttling after which autoscaling removes a unit.", runtime=True
    )
    autoscale_delay_seconds: float = _setting(
        0.0,
        "Seconds before a unit autoscaling adds or removes is in (or out of) service.",
        runtime=True,
    )
    max_projects: int = _setting(
        0,
        "Projects per account and region; 0 = unlimited (LimitExceededException above).",
        runtime=True,
    )
    max_tags_per_resource: int = _setting(
        200, "Tags per resource (ServiceQuotaExceededException above).", runtime=True
    )
    max_policies_per_project: int = _setting(
        5, "Project policies per project (ServiceQuotaExceededException above).", runtime=True
    )
    backbone: Backbone = _setting(
        "int8",
        "Precision of the backbone that new trainings embed images with (a model keeps the one "
        "it was trained with).",
        runtime=True,
        choices=BACKBONES,
    )
    embedding_cache_mb: float = _setting(
        64.0,
        "Memory for what DetectCustomLabels computed from recent images, so a repeated image "
        "skips decode and backbone (least recently used first out); 0 = no cache.",
        runtime=True,
    )
    embedding_store_mb: float = _setting(
        1024.0,
        "Disk, under the data directory, for training images' embeddings kept across trainings "
        "(least recently used first out); 0 = none.",
        runtime=True,
    )
    model_cache_mb: float = _setting(
        256.0,
        "Disk, under the cache directory, for finished trainings: a training on the same images, "
        "lines, settings and code, in any data directory, writes the same model and artefacts "
        "without computing them (least recently used first out); 0 = none.",
        runtime=True,
    )
    detection_store_mb: float = _setting(
        128.0,
        "Disk, under the cache directory, for what DetectCustomLabels computed from images for "
        "classification models: a later server, in any data directory, skips decode and "
        "backbone for those images (least recently used first out); 0 = none.",
        runtime=True,
    )
    training_threads: int = _setting(
        0, "Threads that decode and embed a training's images; 0 = one per core.", runtime=True
    )
    mirror_max_images: int = _setting(
        2000,
        "Trainings on up to this many images also learn from their mirror images; larger ones "
        "embed each image once (half the time, little to gain from the augmentation).",
        runtime=True,
    )

    moderation_grace_days: float = _setting(
        75.0,
        "Days an adapter stays DEPRECATED after a newer base moderation model is released "
        "(through the control API) before it is EXPIRED.",
        runtime=True,
    )

    @property
    def allowed_host_names(self) -> tuple[str, ...]:
        return _items(self.allowed_hosts)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return _items(self.cors_origins)

    @property
    def denied_buckets(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.s3_denied_buckets.split(",") if b.strip())

    def delay(self, key: DelayKey) -> float:
        """Seconds the transition `key` lasts now: zero in instant timing."""
        if self.timing != "realistic":
            return 0.0
        return float(getattr(self, f"delay_{key}"))


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
# The forms of the entries of allowed_hosts and cors_origins (web/hosts.py and web/cors.py
# say what they mean): a host name or address without a port, possibly `*.`-prefixed; an
# origin as browsers send it, scheme://host[:port] with no path.
_HOST_ENTRY = re.compile(
    r"\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+"
)
_ORIGIN_ENTRY = re.compile(
    r"\*|[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])"
    r"(:[0-9]{1,5})?"
)


def _items(text: str) -> tuple[str, ...]:
    """The entries of a comma-separated setting, stripped, empty ones left out."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def coerce(name: str, value: Any) -> Any:
    """Convert `value` (text of a flag or variable, or JSON) to the setting's type; check it."""
    f = FIELDS[name]
    if f.metadata["nullable"] and (
        value is None
        or (isinstance(value, str) and value.strip().lower() in ("", "none", "null", "unlimited"))
    ):
        return None
    type_name = f.type.removesuffix(" | None") if isinstance(f.type, str) else f.type.__name__
    kind = str if f.metadata["choices"] else {"str": str, "int": int, "float": float}[type_name]
    try:
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            out: Any = int(value)
        elif kind is float:
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if out != out or out in (float("inf"), float("-inf")):
                raise ValueError
        else:
            if not isinstance(value, str):
                raise ValueError
            out = value
    except (TypeError, ValueError, OverflowError):
        raise SettingError(f"{name}: {value!r} is not a valid {kind.__name__}") from None
    _check(name, out)
    return out


def _check(name: str, value: Any) -> None:
    choices = FIELDS[name].metadata["choices"]
    if choices and value not in choices:
        raise SettingError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    if (name.startswith(("delay_", "autoscale_")) or name == "tps_per_inference_unit") and (
        value < 0
    ):
        raise SettingError(f"{name}: must be >= 0")
    seconds = name.startswith(("delay_", "autoscale_")) or name in (
        "max_wait_seconds",
        "tps_per_inference_unit",
        "idle_timeout",
        "request_header_timeout",
    )
    if name in ("idle_timeout", "request_header_timeout") and value < 1:
        raise SettingError(f"{name}: must be at least 1 second")
    if seconds and value > MAX_SECONDS:
        raise SettingError(f"{name}: must be at most {MAX_SECONDS}")
    if isinstance(value, int) and abs(value) > MAX_INTEGER:
        raise SettingError(f"{name}: must be at most {MAX_INTEGER}")
    if name == "s3_endpoint_url" and value and not re.match(r"https?://", value):
        raise SettingError("s3_endpoint_url: must start with http:// or https://")
    if name == "allowed_hosts":
        for entry in _items(value):
            if not _HOST_ENTRY.fullmatch(entry):
                raise SettingError(
                    f"allowed_hosts: {entry!r} is not a host name or address without a port "
                    "(a leading `*.` allows the subdomains of a name, `*` any name)"
                )
    if name == "cors_origins":
        for entry in _items(value):
            if not _ORIGIN_ENTRY.fullmatch(entry):
                raise SettingError(
                    f"cors_origins: {entry!r} is not an origin such as http://localhost:3000 "
                    "(a scheme, a host and maybe a port; no path) or *"
                )
    if name == "port" and not 0 <= value <= 65535:
        raise SettingError("port: must be between 0 and 65535")
    if name == "account_id" and not re.fullmatch(r"[0-9]{12}", value):
        raise SettingError("account_id: must be exactly 12 digits")
    if name == "region" and not re.fullmatch(r"[a-z]{2,}(-[a-z]+)+-[0-9]+", value):
        raise SettingError(f"region: {value!r} is not a region name such as us-east-1")
    if (
        name
        in (
            "threads",
            "connection_limit",
            "max_body_bytes",
            "manifest_max_bytes",
            "manifest_max_rows",
            "manifest_max_labels",
            "manifest_max_line_chars",
        )
        and value < 1
    ):
        raise SettingError(f"{name}: must be >= 1")
    if (
        name
        in (
            "embedding_cache_mb",
            "embedding_store_mb",
            "model_cache_mb",
            "detection_store_mb",
            "training_threads",
            "mirror_max_images",
        )
        and value < 0
    ):
        raise SettingError(f"{name}: must be >= 0")
    if name == "moderation_grace_days" and not 0 <= value <= MAX_GRACE_DAYS:
        raise SettingError(f"moderation_grace_days: must be between 0 and {MAX_GRACE_DAYS}")
    if name == "invalid_row_threshold" and not 0 <= value <= 1:
        raise SettingError("invalid_row_threshold: must be between 0 and 1")
    if name.startswith("max_") and value < 0:
        raise SettingError(f"{name}: must be >= 0")


def from_sources(flags: dict[str, Any], environ: dict[str, str]) -> Settings:
    """Settings from parsed CLI flags (None = not given) over environment over defaults."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        if flags.get(name) is not None:
            values[name] = coerce(name, flags[name])
        elif env_name(name) in environ:
            values[name] = coerce(name, environ[env_name(name)])
    return Settings(**values)


class RuntimeConfig:
    """The live settings: start-up values plus changes made through `/_fakerek/config`.

    Readers take a `snapshot()` once per request so that one request sees one consistent set.
    """

    def __init__(self, initial: Settings):
        self._initial = initial
        self._current = dataclasses.replace(initial)
        self._lock = threading.Lock()

    def snapshot(self) -> Settings:
        return self._current  # replaced wholesale on change, never mutated in place

    def reset(self) -> None:
        with self._lock:
            self._current = dataclasses.replace(self._initial)

    def as_json(self) -> dict[str, Any]:
        s = self._current
        out: dict[str, Any] = {"delays": {}}
        for name, f in FIELDS.items():
            if not f.metadata["runtime"]:
                continue
            if name.startswith("delay_"):
                out["delays"][name.removeprefix("delay_")] = getattr(s, name)
            else:
                out[name] = getattr(s, name)
        return out

    def update(self, patch: Any) -> dict[str, Any]:
        """Apply a JSON patch such as `{"timing": "realistic", "delays": {"training": 2}}`.

        Only the keys named change; an unknown key or a bad value changes nothing.
        """
        if not isinstance(patch, dict):
            raise SettingError("the body must be a JSON object")
        changes: dict[str, Any] = {}
        for key, value in patch.items():
            if key == "delays":
                if not isinstance(value, dict):
                    raise SettingError(
                        "delays: must be an object keyed by " + ", ".join(DELAY_KEYS)
                    )
                for dkey, dvalue in value.items():
                    if dkey not in DELAY_KEYS:
                        raise SettingError(
                            f"delays: unknown key {dkey!r}; known: " + ", ".join(DELAY_KEYS)
                        )
                    changes[f"delay_{dkey}"] = coerce(f"delay_{dkey}", dvalue)
            elif key in FIELDS and FIELDS[key].metadata["runtime"] and not key.startswith("delay_"):
                changes[key] = coerce(key, value)
            else:
                known = [
                    n
                    for n, f in FIELDS.items()
                    if f.metadata["runtime"] and not n.startswith("delay_")
                ] + ["delays"]
                raise SettingError(
                    f"unknown or start-up-only setting {key!r}; settable here: " + ", ".join(known)
                )
        with self._lock:
            self._current = dataclasses.replace(self._current, **changes)
        return self.as_json()
