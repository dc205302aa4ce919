"""Settings: declared once with their defaults, read from TOML and the environment, validated.

Order of precedence: built-in defaults (documented in config/default.toml), then the file named
by SYNDICATION_CONFIG, then SYNDICATION_<NAME> environment variables, then explicit overrides
(tests). A bad value raises ConfigError with one line naming the setting and the problem.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import langcodes

ENV_PREFIX = "SYNDICATION_"
# The instance folder when `instance_path` is not set. Not a setting of its own: it says where
# the instance lives, before any file in it is read.
HOME_ENV = "SYNDICATION_HOME"
# `syndication run` writes the base URL it serves under here, in the instance folder, when no
# base_url is configured, so other commands print the URLs the running server uses.
RECORDED_BASE_URL = "base_url"
# The site's name when `site_name` is empty: the product's, so a fresh install reads as one.
DEFAULT_SITE_NAME = "Syndication"


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
    site_logo: str = ""
    site_description: str = ""
    site_accent: str = ""
    feed_max_age: int = 60
    feed_ttl: int = 15
    feed_limit: int = 50
    # Days a killed or retracted story stays listed as an RFC 6721 deleted entry in Atom.
    tombstone_days: int = 7
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
    log_format: str = "text"
    # /metrics: a bearer token (plain, or "sha256:<hex>" of it; left out of the repr, which
    # a traceback or a test failure may print) and the client ranges let in without one.
    metrics_token: str = field(default="", repr=False)
    metrics_allow: str = "127.0.0.1/32, ::1/128"
    ready_requires_scheduler: bool = True
    link_redirect_status: int = 302
    link_utm: str = ""
    visit_flush_interval: float = 2.0
    reach_counting: bool = True
    reach_flush_interval: float = 5.0
    reach_buffer_max: int = 100_000
    reach_retention_days: int = 400
    secret_key: str = ""
    outbound_allow: str = ""
    retry_schedule: str = "5,300,1800,7200,18000,36000,36000"
    outbound_timeout: float = 15.0
    push_concurrency: int = 256
    push_per_subscriber: int = 4
    lease_seconds: int = 60
    delivery_retention: int = 2_592_000
    pull_waits: int = 2
    pull_waits_per_partner: int = 1
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
        """The site's name for readers and crawlers: `site_name`, else DEFAULT_SITE_NAME.

        Not the host of base_url: on a first run that is "127.0.0.1", which names nothing a
        reader knows, and a real host is better spelled out by the operator than guessed."""
        return self.site_name or DEFAULT_SITE_NAME

    @property
    def logo_url(self) -> str | None:
        """`site_logo` as an absolute URL on this service, or None when no logo is set."""
        return f"{self.base_url}{self.site_logo}" if self.site_logo else None

    @property
    def instance_dir(self) -> Path:
        """The instance folder: `instance_path`, else SYNDICATION_HOME, else the per-user data
        directory; never the working directory, so every command finds the same database."""
        return Path(self.instance_path or default_home()).expanduser().resolve()

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


def _check_site_description(value: str) -> None:
    if len(value) > 500 or any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ConfigError(
            "site_description: must be at most 500 characters, without control characters, "
            f"got {value!r}"
        )


# A path on this service: what a browser would not read as another host ("//x", "/\\x") or
# as anything but a plain path (no query, fragment, quotes, spaces or dot segments).
_LOGO_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~+,;=:@%/-]*")
_HEX_COLOUR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")


def _normalise_logo(value: str, base_url: str) -> str:
    """`site_logo` as a path on this service ("" = none); ConfigError for anything else.

    An absolute URL is accepted when it is on base_url's origin, and kept as its path: the pages
    then load nothing from another host (the logo is on every public page)."""
    if not value:
        return ""
    try:
        logo = urlsplit(value)
    except ValueError:
        raise ConfigError(f"site_logo: not a path or URL: {value!r}") from None
    if logo.scheme and logo.scheme.lower() not in ("http", "https"):  # javascript:, data:…
        raise ConfigError(
            f"site_logo: must be a path on this service or an http(s) URL, got {value!r}"
        )
    if not logo.scheme:
        # Relative to base_url, as a relative link on the home page would be.
        path = value if value.startswith("/") else "/" + value
    else:
        base = urlsplit(base_url)
        if (logo.scheme.lower(), logo.netloc.lower()) != (base.scheme, base.netloc.lower()):
            raise ConfigError(
                f"site_logo: must be a path on this service (e.g. /media/logo.png) or a URL on "
                f"{base.scheme}://{base.netloc}, not another origin: {value!r}"
            )
        if logo.query or logo.fragment:
            raise ConfigError(f"site_logo: must have no query or fragment, got {value!r}")
        base_path = base.path.rstrip("/")
        if not logo.path.startswith(base_path + "/"):
            raise ConfigError(f"site_logo: must be under base_url ({base_url}), got {value!r}")
        path = logo.path[len(base_path) :]
    if (
        len(path) > 500
        or not _LOGO_PATH.fullmatch(path)
        or any(seg in (".", "..") for seg in path.split("/"))
    ):
        raise ConfigError(
            "site_logo: must be a path on this service starting with a single /, without "
            f"spaces, quotes, query, fragment or dot segments (e.g. /media/logo.png), got {value!r}"
        )
    return path


def _check_accent(value: str) -> None:
    if value and not _HEX_COLOUR.fullmatch(value):
        raise ConfigError(
            f"site_accent: must be a CSS hex colour like #0b57d0 or #c30, got {value!r}"
        )


def _check_log_level(value: str) -> None:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level: must be DEBUG, INFO, WARNING or ERROR, got {value!r}")


def _check_log_format(value: str) -> None:
    if value not in ("text", "json"):
        raise ConfigError(f"log_format: must be text or json, got {value!r}")


_TOKEN_HASH = re.compile(r"sha256:[0-9a-f]{64}")


def _check_metrics_token(value: str) -> None:
    # The token itself is never echoed back: the message says only what is wrong with it.
    if value.startswith("sha256:"):
        if not _TOKEN_HASH.fullmatch(value):
            raise ConfigError("metrics_token: sha256: must be followed by 64 lower-case hex digits")
    elif value and (len(value) < 16 or not value.isprintable() or " " in value):
        raise ConfigError(
            "metrics_token: must be at least 16 printable characters without spaces "
            f"(got {len(value)} characters), or sha256:<hex digest of the token>"
        )


def parse_cidrs(name: str, value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated CIDR ranges (a bare address is its own /32 or /128)."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: not a valid address or CIDR range: {part[:60]!r}") from None
    return tuple(networks)


def _check_metrics_allow(value: str) -> None:
    parse_cidrs("metrics_allow", value)


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


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """SYNDICATION_HOME, else the per-user data directory (platformdirs: the place each OS
    keeps an application's data, e.g. ~/.local/share/syndication)."""
    environ = os.environ if environ is None else environ
    home = environ.get(HOME_ENV, "").strip()
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir("syndication", appauthor=False))


def record_base_url(settings: Settings, base_url: str) -> Path:
    """Write `base_url` (the address `run` serves on) into the instance folder, for commands
    run while no base_url is configured; returns the file written."""
    _check_base_url(base_url)
    folder = settings.instance_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORDED_BASE_URL
    partial = path.with_name(f".{RECORDED_BASE_URL}.{os.getpid()}")
    partial.write_text(base_url + "\n", encoding="utf-8")
    partial.replace(path)  # atomic: a reader sees the old URL or the new one
    return path


def _recorded_base_url(instance_dir: Path) -> str | None:
    """The base URL `run` recorded in `instance_dir`, or None (none, unreadable, invalid)."""
    try:
        value = (instance_dir / RECORDED_BASE_URL).read_text(encoding="utf-8").strip()
        _check_base_url(value)
    except (OSError, UnicodeDecodeError, ConfigError):
        return None
    return value


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
    "site_description": _check_site_description,
    "site_accent": _check_accent,
    "log_level": _check_log_level,
    "log_format": _check_log_format,
    "metrics_token": _check_metrics_token,
    "metrics_allow": _check_metrics_allow,
}
_NAMED_VALIDATORS: dict[str, Callable[[str, Any], None]] = {
    "feed_max_age": _check_range(0, 31_536_000),
    "feed_ttl": _check_range(1, 100_000),
    "feed_limit": _check_range(1, 500),
    "tombstone_days": _check_range(0, 3650),
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
    "reach_flush_interval": _check_range(0.05, 300),
    "reach_buffer_max": _check_range(1, 10_000_000),
    "reach_retention_days": _check_range(1, 36_500),
    "outbound_timeout": _check_range(0.1, 300),
    "push_concurrency": _check_range(1, 4096),
    "push_per_subscriber": _check_range(1, 256),
    "lease_seconds": _check_range(1, 86_400),
    "delivery_retention": _check_range(3600, 315_360_000),
    "pull_waits": _check_range(1, 1024),
    "pull_waits_per_partner": _check_range(1, 1024),
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
    return load_settings_with_origins(overrides, environ)[0]


def load_settings_with_origins(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Settings, dict[str, str]]:
    """The settings, and where each one not left at its default came from (for
    `syndication info`, and for `run` to tell a configured base_url from a recorded one)."""
    environ = os.environ if environ is None else environ
    declared = {
        f.name: _TYPES[f.type] if isinstance(f.type, str) else f.type for f in fields(Settings)
    }
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

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
            origins[key] = f"config file {config_file}"

    for key, kind in declared.items():
        env_name = ENV_PREFIX + key.upper()
        if env_name in environ:
            values[key] = _coerce(key, kind, environ[env_name], env_name)
            origins[key] = f"environment {env_name}"

    for key, raw in (overrides or {}).items():
        if key not in declared:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, declared[key], raw, key)
        origins[key] = "given"

    if not values.get("instance_path") and environ.get(HOME_ENV, "").strip():
        values["instance_path"] = environ[HOME_ENV].strip()
        origins["instance_path"] = f"environment {HOME_ENV}"
    settings = replace(Settings(), **values)
    if "base_url" not in values:
        recorded = _recorded_base_url(settings.instance_dir)
        if recorded is not None:
            settings = replace(settings, base_url=recorded)
            origins["base_url"] = (
                f"recorded by `syndication run` in {settings.instance_dir / RECORDED_BASE_URL}"
            )
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
    try:  # after base_url is known to be good
        settings = replace(
            settings, site_logo=_normalise_logo(settings.site_logo, settings.base_url)
        )
    except ConfigError as exc:
        where = " (from SYNDICATION_SITE_LOGO)" if ENV_PREFIX + "SITE_LOGO" in environ else ""
        raise ConfigError(f"invalid setting {exc}{where}") from None
    if not settings.websub_lease_min <= settings.websub_lease_default <= settings.websub_lease_max:
        raise ConfigError(
            "invalid setting websub_lease_default: must lie between websub_lease_min and "
            f"websub_lease_max ({settings.websub_lease_min} <= "
            f"{settings.websub_lease_default} <= {settings.websub_lease_max})"
        )
    return settings, origins
