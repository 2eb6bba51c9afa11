"""Reading YAML configuration files and reporting their errors the same way in every process."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from jumpoint.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    """Turn pydantic's errors into lines naming the file, the key path and what was expected."""
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config/*.example.yaml)"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; raise ConfigError naming the file otherwise."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values, got {type(data).__name__}")
    return data


def load_config_file(model: type[M], path: Path | None) -> M:
    """Validate ``path`` (or the defaults when None) into ``model``; raise ConfigError on any problem."""
    if path is None:
        return model()
    try:
        return model.model_validate(load_yaml_mapping(path))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None
