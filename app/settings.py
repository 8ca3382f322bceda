"""Service settings: environment beats a YAML file (--config) beats defaults."""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from app import defaults

if TYPE_CHECKING:
    from importlib.abc import Traversable  # its import costs milliseconds of every start

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")

# Comma-separated in the environment, a list or a string in YAML.
CommaList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """Start-up must stop; each line names a setting and what is wrong with it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,
    )

    discord_public_key: str | None = None
    discord_application_id: str | None = None
    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = defaults.DISCORD_API_BASE_URL

    database_url: str = "sqlite:///./data/coach_plans.db"
    database_path: Path | None = None
    api_host: str = defaults.API_HOST
    api_port: int = Field(defaults.API_PORT, ge=1, le=65535)
    public_base_url: str | None = None
    api_key: SecretStr | None = None
    cors_origins: CommaList = ["*"]
    forwarded_allow_ips: str = defaults.FORWARDED_ALLOW_IPS
    header_timeout_seconds: float = Field(defaults.HEADER_TIMEOUT_SECONDS, gt=0)
    body_timeout_seconds: float = Field(defaults.BODY_TIMEOUT_SECONDS, gt=0)
    max_header_bytes: int = Field(defaults.MAX_HEADER_BYTES, ge=1024)

    coaches: CommaList = list(defaults.COACHES)
    timezone: str = defaults.TIMEZONE
    allowed_guild_ids: CommaList = []
    default_guild_id: str | None = None
    max_chart_attachments: int = Field(10, ge=1, le=20)
    max_chart_bytes: int = Field(10 * 1024 * 1024, ge=1)
    chart_storage_dir: Path = Path("./data/charts")
    plan_days_back: int = Field(366, ge=0)  # bounds on what commands post (app/plans/quotas.py)
    plan_days_ahead: int = Field(31, ge=0)
    member_plans_per_day: int = Field(30, ge=0)
    guild_plans_per_day: int = Field(300, ge=0)
    member_chart_mb_per_day: float = Field(200, ge=0)
    guild_chart_mb_per_day: float = Field(2000, ge=0)
    # An S3-compatible bucket instead, named as `fly storage create` names its secrets.
    chart_bucket: str | None = None
    bucket_name: str | None = None
    aws_endpoint_url_s3: str | None = None
    aws_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_region: str | None = None

    # Outcomes: where bars come from (`yahoo`, `csv:<dir>`, `none`) and whose sessions count.
    price_source: str = "yahoo"
    market_calendar: str = "XNYS"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    log_file: str = "./logs/coach_plans.log"
    log_max_size_mb: float = Field(10, gt=0)
    log_backup_count: int = Field(5, ge=0)

    cache_ttl_seconds: float = Field(defaults.CACHE_TTL_SECONDS, ge=0)
    max_cache_size: int = Field(defaults.MAX_CACHE_SIZE, ge=1)
    reconnect_attempts: int = Field(defaults.RECONNECT_ATTEMPTS, ge=0, le=20)
    reconnect_delay_seconds: float = Field(defaults.RECONNECT_DELAY_SECONDS, ge=0)
    connection_timeout: float = Field(defaults.CONNECTION_TIMEOUT, gt=0)

    mock_mode: bool = False
    mock_key_file: Path = Path("./data/mock_signing.key")

    @field_validator("cors_origins", "coaches", "allowed_guild_ids", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [str(value)]
        if isinstance(value, list):
            return [str(item).strip() for item in value]
        return value

    @field_validator(
        "discord_bot_token",
        "api_key",
        "public_base_url",
        "database_path",
        "chart_bucket",
        "bucket_name",
        "aws_endpoint_url_s3",
        "aws_endpoint_url",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_region",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case_fold(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("coaches")
    @classmethod
    def _check_coaches(cls, value: list[str]) -> list[str]:
        names = [name.lower() for name in value]
        if not names:
            raise ValueError("must name at least one coach, e.g. d,i,s,n")
        for name in names:
            if not re.fullmatch(r"[a-z0-9_-]{1,32}", name):
                raise ValueError(f"coach name {name!r} must be 1-32 chars of a-z, 0-9, '_' or '-'")
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise ValueError(f"duplicate coach name(s): {', '.join(dupes)}")
        if len(names) > 25:
            raise ValueError("at most 25 coaches (Discord allows 25 choices)")
        return names

    @field_validator("allowed_guild_ids")
    @classmethod
    def _check_guilds(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if not _SNOWFLAKE.fullmatch(item)]
        if bad:
            raise ValueError(f"guild ids must be Discord snowflakes (digits): {', '.join(bad)}")
        return value

    @field_validator("default_guild_id", mode="before")
    @classmethod
    def _check_default_guild(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        if not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value.strip()):
            raise ValueError("must be a Discord server id (digits)")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. America/New_York") from None
        return value

    @field_validator("price_source")
    @classmethod
    def _check_price_source(cls, value: str) -> str:
        value = value.strip()
        kind, _, where = value.partition(":")
        if value in ("yahoo", "none") or (kind == "csv" and where.strip()):
            return value
        raise ValueError("must be yahoo, none or csv:<directory>, e.g. csv:./data/prices")

    @field_validator("market_calendar")
    @classmethod
    def _check_market_calendar(cls, value: str) -> str:
        # Only the name's shape here: the calendars load with grading, never at start-up.
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z0-9_]{2,12}", value):
            raise ValueError("must be an exchange-calendars name, e.g. XNYS")
        return value

    @field_validator("discord_public_key")
    @classmethod
    def _check_public_key(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if not _HEX64.fullmatch(value):
            raise ValueError("must be the 64 hex characters shown in the Developer Portal")
        return value.lower()

    @field_validator("discord_application_id")
    @classmethod
    def _check_application_id(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _SNOWFLAKE.fullmatch(value):
            raise ValueError("must be the numeric application id from the Developer Portal")
        return value

    @field_validator(
        "discord_api_base_url", "public_base_url", "aws_endpoint_url_s3", "aws_endpoint_url"
    )
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("mock_mode")
    @classmethod
    def _require_key(cls, value: bool, info: ValidationInfo) -> bool:
        # Checked here rather than on the model so it is reported beside other problems.
        key_missing = "discord_public_key" in info.data and info.data["discord_public_key"] is None
        if not value and key_missing:
            raise ValueError(
                "DISCORD_PUBLIC_KEY: required unless mock mode is on (--mock or MOCK_MODE=true)"
            )
        if value and info.data.get("discord_public_key") is not None and _SERVING.get():
            # A service in mock mode checks requests against the development key: with a real
            # key set it would silently refuse every request Discord signs, and open mock
            # mode's own paths to anyone. The tools (send, register_commands.py, charts
            # migrate, export, import) only borrow mock mode's "no key needed", so this stops
            # `serve` alone.
            raise ValueError(
                "MOCK_MODE: mock mode (--mock or MOCK_MODE=true) is on while DISCORD_PUBLIC_KEY "
                "is set: unset DISCORD_PUBLIC_KEY to try the service without Discord, or turn "
                "mock mode off to serve Discord"
            )
        return value

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        if self.database_path is not None:
            if "database_url" in self.model_fields_set:
                raise ValueError(
                    "DATABASE_PATH and DATABASE_URL are both set: set only one of them"
                )
            self.database_url = f"sqlite:///{self.database_path}"
        self.chart_bucket = self.chart_bucket or self.bucket_name
        self.aws_endpoint_url_s3 = self.aws_endpoint_url_s3 or self.aws_endpoint_url
        if self.default_guild_id is None and len(self.allowed_guild_ids) == 1:
            # Serving one community only: REST reads that name no guild mean that one.
            self.default_guild_id = self.allowed_guild_ids[0]
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def grading(self) -> bool:
        """Whether plans are graded here (a price source is set)."""
        return self.price_source != "none"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command-line flags (init), then environment, then the --config file, then defaults.
        config = _CONFIG_FILE.get()
        if config is None:
            return init_settings, env_settings
        return init_settings, env_settings, _ConfigFile(settings_cls, yaml_file=config)


# The --config file of the load_settings call in progress (sources are built per class, so the
# path travels beside the call rather than through the class).
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("config_file", default=None)
# Whether that call's settings are to serve (`serve`), or for a tool.
_SERVING: ContextVar[bool] = ContextVar("serving", default=False)


class _ConfigFile(YamlConfigSettingsSource):
    """pydantic-settings' own YAML source, with keys in any case and errors that name the file."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        import yaml  # only with --config: off the start path otherwise

        try:
            raw: object = super()._read_file(file_path)
        except OSError as exc:
            raise SettingsError([f"--config: cannot read {file_path}: {exc.strerror}"]) from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}" if where else ""
            raise SettingsError([f"--config: {file_path} is not valid YAML{at}"]) from None
        if not isinstance(raw, dict):
            raise SettingsError([f"--config: {file_path} must hold a mapping of SETTING: value"])
        return {str(key).lower(): value for key, value in raw.items()}


def load_settings(
    config: Path | str | None = None, *, serving: bool = False, **overrides: Any
) -> Settings:
    """Build the settings once at start-up; SettingsError lists every problem found. `serving`:
    for `serve`, which also refuses mock mode beside a real DISCORD_PUBLIC_KEY."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if config and not Path(config).is_file():
        # pydantic-settings skips a missing file; a --config that names one is a mistake.
        raise SettingsError([f"--config: cannot read {config}: no such file"])
    token = _CONFIG_FILE.set(Path(config) if config else None)
    serving_token = _SERVING.set(serving)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, config)) from None
    finally:
        _SERVING.reset(serving_token)
        _CONFIG_FILE.reset(token)


_SECRET = {"discord_bot_token", "api_key", "aws_secret_access_key"}


def _describe(exc: ValidationError, config: Path | str | None) -> list[str]:
    """One line per setting problem, naming the setting, for start-up to print before it stops
    (a secret's value is never shown)."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        if error["type"] == "extra_forbidden" and loc:
            lines.append(f"{str(loc[0]).upper()}: unknown setting in {config}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if not loc or re.match(r"[A-Z_]+: ", message):  # the check named its setting
            lines.append(message)
            continue
        field = str(loc[0])
        got = error.get("input")
        shown = "" if field in _SECRET or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{field.upper()}: {message}{shown}")
    return lines
