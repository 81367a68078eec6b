"""Options of the logs: levels (also per component), format and the frame log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from .checks import Area


class LogOptions(Area):
    # ---- logs ----------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="level")
    log_format: Literal["text", "json"] = Field("text", description="log line format")
    log_levels: str = Field(
        "", description="levels per component over log_level, e.g. mqtt=debug,ws=warning"
    )
    frame_log: list[str] = Field(
        default_factory=list, description="identities whose frames are logged ('*': all)"
    )
    frame_log_file: str = Field(
        "", description="where frames are logged: '' = stderr, a directory/ or a file"
    )

    @field_validator("log_levels", mode="before")
    @classmethod
    def _check_log_levels(cls, value: Any) -> Any:
        from ..logs import parse_levels

        if isinstance(value, dict):  # a TOML table [log_levels] mqtt = "debug"
            value = ",".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, str):
            parse_levels(value)
        return value

    @field_validator("frame_log", mode="before")
    @classmethod
    def _split_frame_log(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("frame_log_file")
    @classmethod
    def _check_frame_log_file(cls, value: str) -> str:
        from ..framelog import is_directory_target

        if value in ("", "-"):
            return value
        path = Path(value)
        if path.exists() and not path.is_dir() and not os.access(path, os.W_OK):
            raise ValueError(f"{value!r} is not writable; fix its permissions or choose "
                             "another file")
        if not is_directory_target(value) and not path.parent.is_dir():
            raise ValueError(f"directory {str(path.parent)!r} does not exist; create it or "
                             "choose another file (or end the path with / for a directory)")
        return value
