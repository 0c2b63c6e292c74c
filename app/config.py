"""Run-time settings: command-line flags override `LCMW_*` environment variables,
which override these defaults (an embedded SQLite file, the bundled demo models, CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    import torch


def default_db_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("lcm-writer", appauthor=False))
    return f"sqlite:///{data_dir / 'documents.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LCMW_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    db: str = Field(default_factory=default_db_url)
    codec: str = "demo"  # "demo", "sonar", or a checkpoint directory
    lcm: str = "demo"  # "demo", "demo-quant" or a checkpoint directory
    device: Literal["cpu", "cuda"] | None = None  # None: cuda when present
    # The codec's arithmetic. auto: the codec's own choice (bf16 on a GPU, fp32 on a CPU),
    # except bf16 on a CPU with bf16 matrix units (Intel AMX), where it is twice as fast.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    auth: str | None = None  # "user:password" turns on Gradio's login for shared use
    max_upload_mb: int = Field(5, ge=1, le=100)

    @field_validator("db")
    @classmethod
    def _db_is_a_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(f"expected an SQLAlchemy URL such as sqlite:///path.db, got {value!r}")
        return value

    @field_validator("auth")
    @classmethod
    def _auth_is_user_password(cls, value: str | None) -> str | None:
        if value is not None and ":" not in value:
            raise ValueError("expected 'user:password'")
        return value


def codec_dtype(settings: Settings) -> torch.dtype | None:
    """The dtype `load_codec` gets for `settings.precision` (None: the codec's default)."""
    import torch

    from engine.codec.base import cpu_has_fast_bf16
    from engine.device import default_device

    if settings.precision != "auto":
        return {"fp32": torch.float32, "bf16": torch.bfloat16}[settings.precision]
    on_cpu = default_device(settings.device).type == "cpu"
    return torch.bfloat16 if on_cpu and cpu_has_fast_bf16() else None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment with the non-None `overrides` applied on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def describe_error(error: ValidationError) -> str:
    """One readable line per invalid setting, naming the flag and the variable."""
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        lines.append(f"--{name.replace('_', '-')} / LCMW_{name.upper()}: {item['msg']}")
    return "\n".join(lines)
