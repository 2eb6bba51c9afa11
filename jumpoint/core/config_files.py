"""Reading YAML configuration files and reporting their errors the same way in every process."""

from __future__ import annotations

import types
import typing
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from jumpoint.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """A mapping in a YAML file gives the same key twice."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(f"line {line}: the key {key!r} is given twice (first on line {first_line}); keep one")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a mapping that repeats a key is an error instead of the last value winning."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_line: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults`: its keys may be overridden, as YAML says
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # refused as unhashable by the constructor below
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise DuplicateKeyError(str(key), line, first_line[key])
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def _unwrap(annotation: Any) -> Any:
    """``annotation`` without ``Annotated[...]`` and without ``| None`` when one type is left."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        members = _union_members(annotation)
        if len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _union_members(annotation: Any) -> list[Any]:
    """The members of a union other than None (empty when ``annotation`` is not a union)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    return [a for a in typing.get_args(annotation) if a is not type(None)]


def _member_named(members: Sequence[Any], label: str) -> Any:
    """The member of a union pydantic named ``label`` in an error's location (``str``, ``SecretRef``,
    ``function-after[_check(), SecretRef]``), or None when it cannot be told."""
    for member in members:
        inner = _unwrap(member)
        name = getattr(inner, "__name__", None)
        if name is None:
            continue
        if label == name or (isinstance(inner, type) and issubclass(inner, BaseModel) and f"{name}]" in label):
            return inner
    return None


def _child(annotation: Any, part: int | str) -> Any:
    """The type found at key ``part`` of a value of type ``annotation`` (None when unknown)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, set, frozenset, tuple) and args:
        return args[0]
    return None


def plain_key_path(model: type[BaseModel] | None, loc: Sequence[int | str]) -> tuple[str, tuple[int, ...]]:
    """The key path of an error's location as the file spells it (``database.url``), and the positions in ``loc``
    of the union members' names pydantic put in it (``database.url.function-after[...].evn`` -> ``database.url.evn``).

    Without ``model`` the location is only joined with dots."""
    parts: list[str] = []
    labels: list[int] = []
    current: Any = model
    for index, part in enumerate(loc):
        if part == "[key]":  # the error is in a mapping's key, already named
            continue
        current = _unwrap(current)
        members = _union_members(current)
        if members and isinstance(part, str):
            labels.append(index)
            current = _member_named(members, part)
            continue
        parts.append(str(part))
        current = _child(current, part)
    return ".".join(parts), tuple(labels)


def _is_type_mismatch(err: ErrorDetails) -> bool:
    return err["type"].endswith("_type") or err["type"] in ("is_instance_of", "none_required")


def _relevant(errors: list[ErrorDetails], labels: list[tuple[int, ...]]) -> list[ErrorDetails]:
    """Drop a union member's "wrong type" error when another member took the value and found a real problem
    (``url: {evn: X}`` is a mapping with an unknown key, not "Input should be a valid string")."""
    kept: list[ErrorDetails] = []
    for err, positions in zip(errors, labels, strict=True):
        loc = tuple(err["loc"])
        mismatch_at = [i for i in positions if len(loc) == i + 1 and _is_type_mismatch(err)]
        if mismatch_at:
            i = mismatch_at[0]
            others = (
                other
                for other, other_positions in zip(errors, labels, strict=True)
                if i in other_positions
                and tuple(other["loc"])[:i] == loc[:i]
                and tuple(other["loc"])[i] != loc[i]
                and not (len(other["loc"]) == i + 1 and _is_type_mismatch(other))
            )
            if any(True for _ in others):
                continue
        kept.append(err)
    return kept


def format_validation_error(path: Path | str, exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """Turn pydantic's errors into lines naming the file, the key path and what was expected.

    With the ``model`` validated, key paths read as in the file (``database.url``), without the names pydantic
    gives the members of a union, and a member's "wrong type" error is left out when another member took the value.
    """
    errors = exc.errors(include_url=False)
    labels = [plain_key_path(model, err["loc"])[1] for err in errors]
    problems: dict[str, list[str]] = {}
    for err in _relevant(errors, labels):
        where = plain_key_path(model, err["loc"])[0] or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config/*.example.yaml)"
        elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
            msg = "Input should be a mapping of keys to values"
        if msg not in problems.setdefault(where, []):
            problems[where].append(msg)
    lines = [f"{path}: invalid configuration"]
    for where, msgs in problems.items():
        if len(msgs) > 1 and all(m.startswith("Input should be ") for m in msgs):  # a union's members, all refused
            msgs = [msgs[0] + "".join(f", or {m.removeprefix('Input should be ')}" for m in msgs[1:])]
        lines.extend(f"  {where}: {msg}" for msg in msgs)
    return "\n".join(lines)


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; raise ConfigError naming the file otherwise (and the line of a key
    given twice in one mapping)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except DuplicateKeyError as exc:
        raise ConfigError(f"{path}: {exc}") from None
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
        raise ConfigError(format_validation_error(path, exc, model)) from None
