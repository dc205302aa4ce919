"""Settings: declared once with their defaults, read from TOML and the environment, validated.

Order of precedence: built-in defaults (documented in config/default.toml), then the file named
by SYNDICATION_CONFIG, then SYNDICATION_<NAME> environment variables, then explicit overrides
(tests). A bad value raises ConfigError with one line naming the setting and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import langcodes

ENV_PREFIX = "SYNDICATION_"


class ConfigError(ValueError):
    """An invalid setting; str() is the one line shown to the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    instance_path: str = ""
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "UTC"
    default_language: str = "en"
    site_name: str = ""
    feed_max_age: int = 60
    feed_ttl: int = 15
    feed_limit: int = 50
    feed_cache_entries: int = 512
    feed_cache_bytes: int = 64 * 1024 * 1024
    item_cache_bytes: int = 32 * 1024 * 1024
    feed_max_bytes: int = 1024 * 1024
    title_max: int = 500
    summary_max: int = 5000
    body_max: int = 1_000_000
    html_max_depth: int = 256
    max_body: int = 10_485_760
    json_max_depth: int = 32
    code_start: int = 1_000_000
    poll_interval: float = 1.0
    workers: int = 0
    trusted_proxies: int = 0
    log_level: str = "INFO"
    link_redirect_status: int = 302
    link_utm: str = ""
    visit_flush_interval: float = 2.0
    secret_key: str = ""
    outbound_allow: str = ""
    retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    outbound_timeout: float = 15.0
    push_concurrency: int = 256
    push_per_subscriber: int = 4
    lease_seconds: int = 60
    delivery_retention: int = 2_592_000
    run_jobs: bool = True
    secret_overlap: int = 86400
    subscriber_disable_after: int = 432000
    websub_lease_default: int = 864000
    websub_lease_min: int = 3600
    websub_lease_max: int = 2592000
    hub_rate_limit: int = 30
    hub_pending_per_host: int = 10
    http_header_timeout: float = 10.0
    idempotency_claim_timeout: int = 60
    media_path: str = ""
    media_max_bytes: int = 8 * 1024 * 1024
    media_max_pixels: int = 50_000_000

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def publication_name(self) -> str:
        """The site's name for readers and crawlers: `site_name`, else the host of base_url."""
        return self.site_name or urlsplit(self.base_url).hostname or self.base_url

    @property
    def instance_dir(self) -> Path:
        return Path(self.instance_path or "instance").resolve()

    @property
    def media_dir(self) -> Path:
        """Where uploaded images are kept: `media_path`, else the instance folder's media/."""
        return Path(self.media_path).resolve() if self.media_path else self.instance_dir / "media"

    @property
    def db_url(self) -> str:
        """The effective database URL (embedded SQLite file when none is configured)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_dir / 'syndication.db'}"

    @property
    def retry_delays(self) -> tuple[float, ...]:
        """`retry_schedule` as seconds: the delay before retry n+1 is retry_delays[n]."""
        return _parse_schedule(self.retry_schedule)

    @property
    def outbound_allow_list(self) -> tuple[str, ...]:
        """`outbound_allow` split into its host names and CIDR ranges (lower case)."""
        return tuple(
            part.strip().lower() for part in self.outbound_allow.split(",") if part.strip()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")


def _positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise ConfigError(f"{name}: must be greater than 0, got {value}")


def _check_base_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base_url: must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment or value.endswith("/"):
        raise ConfigError(
            f"base_url: must have no query, fragment or trailing slash, got {value!r}"
        )


def _check_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown IANA time zone {value!r}") from None


def _check_database_url(value: str) -> None:
    if value and not value.startswith(("sqlite:", "postgresql")):
        raise ConfigError(
            "database_url: only sqlite:/// and postgresql+psycopg:// URLs are supported, "
            f"got {value.split(':')[0]!r}"
        )


def _check_language(value: str) -> None:
    if not langcodes.tag_is_valid(value):
        raise ConfigError(f"default_language: not a valid BCP 47 language tag: {value!r}")


def _check_site_name(value: str) -> None:
    if len(value) > 200 or any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ConfigError(
            f"site_name: must be at most 200 characters, without control characters, got {value!r}"
        )


def _check_log_level(value: str) -> None:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level: must be DEBUG, INFO, WARNING or ERROR, got {value!r}")


def _check_range(lo: float, hi: float) -> Callable[[str, float], None]:
    def check(name: str, value: float) -> None:
        if not lo <= value <= hi:
            raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")

    return check


def _check_redirect_status(value: int) -> None:
    if value not in (301, 302, 307, 308):
        raise ConfigError(f"link_redirect_status: must be 301, 302, 307 or 308, got {value}")


def _check_utm(value: str) -> None:
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(value.replace("{medium}", "link"), strict_parsing=True) if value else []
    except ValueError:
        raise ConfigError(
            f"link_utm: not a query string like utm_source=x&utm_medium=y: {value!r}"
        ) from None
    bad = [k for k, _ in pairs if not k.startswith("utm_")]
    if bad:
        raise ConfigError(f"link_utm: only utm_* parameters are allowed, got {', '.join(bad)}")


def _check_secret_key(value: str) -> None:
    if value and len(value) < 32:
        raise ConfigError(f"secret_key: must be at least 32 characters (random), got {len(value)}")


def _parse_schedule(value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"retry_schedule: must be seconds separated by commas, e.g. 5,300,1800, got {value!r}"
        ) from None
    if not delays or any(d < 0 for d in delays):
        raise ConfigError(f"retry_schedule: needs at least one delay, none negative, got {value!r}")
    return delays


def _check_retry_schedule(value: str) -> None:
    _parse_schedule(value)


def _check_outbound_allow(value: str) -> None:
    import ipaddress

    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if "/" in part:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ConfigError(f"outbound_allow: not a valid CIDR range: {part!r}") from None
        elif not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", part):
            raise ConfigError(f"outbound_allow: not a host name or address: {part!r}")


_VALIDATORS: dict[str, Callable[..., None]] = {
    "retry_schedule": _check_retry_schedule,
    "outbound_allow": _check_outbound_allow,
    "secret_key": _check_secret_key,
    "link_redirect_status": _check_redirect_status,
    "link_utm": _check_utm,
    "database_url": _check_database_url,
    "base_url": _check_base_url,
    "timezone": _check_timezone,
    "default_language": _check_language,
    "site_name": _check_site_name,
    "log_level": _check_log_level,
}
_NAMED_VALIDATORS: dict[str, Callable[[str, Any], None]] = {
    "feed_max_age": _check_range(0, 31_536_000),
    "feed_ttl": _check_range(1, 100_000),
    "feed_limit": _check_range(1, 500),
    "feed_cache_entries": _check_range(1, 1_000_000),
    "feed_cache_bytes": _check_range(0, 2**40),
    "item_cache_bytes": _check_range(0, 2**40),
    "feed_max_bytes": _check_range(16 * 1024, 2**30),
    "title_max": _positive,
    "summary_max": _positive,
    "body_max": _positive,
    "html_max_depth": _check_range(8, 10_000),
    "max_body": _check_range(1024, 2**31),
    # Deeper than a few hundred and the parsers themselves would recurse too far.
    "json_max_depth": _check_range(2, 256),
    "code_start": _check_range(1, 10**15),
    "poll_interval": _check_range(0.05, 3600),
    "workers": _check_range(0, 256),
    "trusted_proxies": _check_range(0, 5),
    "visit_flush_interval": _check_range(0.05, 60),
    "outbound_timeout": _check_range(0.1, 300),
    "push_concurrency": _check_range(1, 4096),
    "push_per_subscriber": _check_range(1, 256),
    "lease_seconds": _check_range(1, 86_400),
    "delivery_retention": _check_range(3600, 315_360_000),
    "hub_rate_limit": _check_range(1, 100_000),
    "hub_pending_per_host": _check_range(1, 100_000),
    "http_header_timeout": _check_range(0.5, 3600),
    "idempotency_claim_timeout": _check_range(1, 86_400),
    "media_max_bytes": _check_range(1024, 2**31),
    # Pillow's own decompression-bomb threshold (PIL.Image.MAX_IMAGE_PIXELS) is the ceiling.
    "media_max_pixels": _check_range(1, 89_478_485),
    "secret_overlap": _check_range(0, 31_536_000),
    "subscriber_disable_after": _check_range(1, 31_536_000),
    "websub_lease_default": _check_range(60, 31_536_000),
    "websub_lease_min": _check_range(60, 31_536_000),
    "websub_lease_max": _check_range(60, 31_536_000),
}


def _coerce(name: str, kind: type, raw: Any, origin: str) -> Any:
    """Turn a TOML or environment value into the declared type, or say why not."""
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(str(raw).strip())
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(str(raw).strip())
        if not isinstance(raw, str):
            raise ValueError
        return raw.strip()
    except ValueError:
        raise ConfigError(f"{origin}: expected {kind.__name__}, got {raw!r}") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate every setting; raise ConfigError on the first bad one."""
    environ = os.environ if environ is None else environ
    declared = {
        f.name: _TYPES[f.type] if isinstance(f.type, str) else f.type for f in fields(Settings)
    }
    values: dict[str, Any] = {}

    config_file = environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"SYNDICATION_CONFIG: cannot read {config_file}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"SYNDICATION_CONFIG: {config_file} is not valid TOML: {exc}"
            ) from None
        for key, raw in data.items():
            if key not in declared:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, declared[key], raw, f"{key} (in {config_file})")

    for key, kind in declared.items():
        env_name = ENV_PREFIX + key.upper()
        if env_name in environ:
            values[key] = _coerce(key, kind, environ[env_name], env_name)

    for key, raw in (overrides or {}).items():
        if key not in declared:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, declared[key], raw, key)

    settings = replace(Settings(), **values)
    for key in declared:
        value = getattr(settings, key)
        try:
            if key in _VALIDATORS:
                _VALIDATORS[key](value)
            if key in _NAMED_VALIDATORS:
                _NAMED_VALIDATORS[key](key, value)
        except ConfigError as exc:
            env_name = ENV_PREFIX + key.upper()
            where = f" (from {env_name})" if env_name in environ else ""
            raise ConfigError(f"invalid setting {str(exc)}{where}") from None
    if not settings.websub_lease_min <= settings.websub_lease_default <= settings.websub_lease_max:
        raise ConfigError(
            "invalid setting websub_lease_default: must lie between websub_lease_min and "
            f"websub_lease_max ({settings.websub_lease_min} <= "
            f"{settings.websub_lease_default} <= {settings.websub_lease_max})"
        )
    return settings
