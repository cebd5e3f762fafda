"""Reading and writing a content folder: one Markdown file per post, at any depth.

A file is YAML front matter between two `---` lines, then the post's text::

    ---
    to: [x:acme, bluesky:acme.bsky.social]
    at: 2026-12-01 09:00
    timezone: Europe/Berlin
    media: [img/launch.png]
    labels: [launch]
    ---
    We launch today.

    ---
    A line holding only --- starts the next part of a thread.

Its path in the folder (`2026/launch.md`) is the post's key; an `id:` field
overrides it, so a file can be renamed or moved without making a new post. Every
problem is collected with its file and line, so one run reports them all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopostr.states import PostState

FIELDS = (
    "id",
    "to",
    "at",
    "queue",
    "timezone",
    "media",
    "first_comment",
    "variants",
    "thread",
    "status",
    "labels",
    "republish",
)
STATUSES = (PostState.DRAFT.value, PostState.SCHEDULED.value)
THREAD_JOIN = "\n\n---\n\n"
_DELIMITER = re.compile(r"^---[ \t]*\r?$")


@dataclass
class FileError:
    path: str  # relative to the folder
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class PostFile:
    """A file's fields as written; names and times are resolved by the plan."""

    path: str  # relative to the folder, with /
    source: Path  # the file itself: media paths are relative to its folder
    key: str
    lines: dict[str, int] = field(default_factory=dict)  # field (or "media.N") -> line
    body_line: int = 1
    to: list[str] = field(default_factory=list)
    at: str | None = None
    queue: bool = False
    timezone: str | None = None
    media: list[str] = field(default_factory=list)
    first_comment: str | None = None
    variants: dict[str, str] = field(default_factory=dict)
    text: str = ""
    status: str | None = None
    labels: list[str] = field(default_factory=list)
    republish: bool = False

    def line(self, name: str) -> int:
        return self.lines.get(name, 1)


def _loader() -> type[Any]:
    """PyYAML's safe loader (libyaml's when built with it) without the timestamp rule:
    `at: 2026-12-01 09:00:00` stays the text the user wrote, read as `posts create --at`
    reads it, with the file's time zone, never as a naive datetime."""
    import yaml

    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolvers = {
        first: [(tag, rx) for tag, rx in rules if tag != "tag:yaml.org,2002:timestamp"]
        for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return type("FrontMatterLoader", (base,), {"yaml_implicit_resolvers": resolvers})


_LOADER: type[Any] | None = None


def _load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    """The front matter's data and the 0-based line of each top-level key (and of each
    media item and variant), for messages that point at the line."""
    global _LOADER
    import yaml

    if _LOADER is None:
        _LOADER = _loader()
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                name = str(key_node.value)
                lines[name] = key_node.start_mark.line
                if isinstance(value_node, yaml.SequenceNode):
                    for index, item in enumerate(value_node.value):
                        lines[f"{name}.{index}"] = item.start_mark.line
                elif isinstance(value_node, yaml.MappingNode):
                    for sub_key, _sub_value in value_node.value:
                        lines[f"{name}.{sub_key.value}"] = sub_key.start_mark.line
        return _value(node, loader), lines
    finally:
        loader.dispose()


_STR = "tag:yaml.org,2002:str"


def _value(node: Any, loader: Any) -> Any:
    """The node as plain Python: texts, lists and mappings walked here, other scalars
    (numbers, booleans, null) by the safe constructor. Constructing every scalar through
    PyYAML's generic path costs more than parsing the file."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, loader) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key, value in node.value:
            name = _value(key, loader)
            try:
                result[name] = _value(value, loader)
            except TypeError:  # a list or mapping as a key
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a text", key.start_mark
                ) from None
        return result
    return loader.construct_object(node, deep=True)


def list_files(root: Path) -> list[tuple[str, Path]]:
    """The folder's Markdown files (path in the folder with /, and the file) in path order;
    hidden folders (.git) and READMEs are not posts."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = Path(folder)
        prefix = base.relative_to(root).as_posix()
        for name in names:
            if not name.endswith(".md") or name.startswith(".") or name.lower() == "readme.md":
                continue
            found.append((name if prefix == "." else f"{prefix}/{name}", base / name))
    return sorted(found)


def read_file(relative: str, path: Path, errors: list[FileError]) -> PostFile | None:
    """One file, or None when it has problems (each one is in `errors`)."""
    import yaml

    before = len(errors)

    def problem(line: int, message: str) -> None:
        errors.append(FileError(relative, line, message))

    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        problem(line, "not UTF-8; save the file as UTF-8")
        return None
    except OSError as exc:
        problem(1, f"cannot be read: {exc.strerror}")
        return None
    lines = raw.split("\n")
    if not lines or not _DELIMITER.match(lines[0]):
        problem(1, "no front matter: the file starts with a --- line, then `to:` and `at:`")
        return None
    end = next((i for i in range(1, len(lines)) if _DELIMITER.match(lines[i])), None)
    if end is None:
        problem(1, "the front matter has no closing --- line")
        return None
    try:
        data, key_lines = _load_yaml("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problem(line, f"the front matter is not valid YAML ({reason})")
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problem(2, "the front matter must be fields such as `to: x:acme`")
        return None
    post = PostFile(
        path=relative,
        source=path,
        key=relative,
        lines={name: line + 2 for name, line in key_lines.items()},
        body_line=end + 2,
    )
    for name in data:
        if name not in FIELDS:
            problem(
                post.line(str(name)),
                f"unknown field {name!r}; the fields are {', '.join(FIELDS)}",
            )
    _read_fields(post, data, problem)
    body = "\n".join(lines[end + 1 :]).strip()
    thread = data.get("thread")
    if thread is not None:
        parts = _strings(thread, "thread", post, problem)
        if body and parts:
            problem(post.line("thread"), "thread: give the parts here or in the body, not both")
        post.text = THREAD_JOIN.join(part.strip() for part in parts)
    else:
        post.text = body
    return post if len(errors) == before else None


def _strings(value: Any, name: str, post: PostFile, problem: Any) -> list[str]:
    """A list of texts (a single text is a list of one)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    problem(post.line(name), f"{name}: give a text or a list of texts")
    return []


def _read_fields(post: PostFile, data: dict[str, Any], problem: Any) -> None:
    if "id" in data:
        value = data["id"]
        if isinstance(value, str | int) and str(value).strip():
            post.key = str(value).strip()[:500]
        else:
            problem(post.line("id"), "id: give a text that stays the same when the file moves")
    to = data.get("to")
    if to is None:
        problem(1, "to: name at least one account, e.g. `to: [x:acme]`")
    else:
        names = to.split(",") if isinstance(to, str) else _strings(to, "to", post, problem)
        post.to = [name.strip() for name in names if name.strip()]
        if not post.to and isinstance(to, str | list):
            problem(post.line("to"), "to: name at least one account, e.g. `to: [x:acme]`")
    for name in ("at", "timezone", "first_comment", "status"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            problem(post.line(name), f"{name}: give a text")
            continue
        setattr(post, name, str(value).strip() or None)
    if post.status is not None and post.status.lower() not in STATUSES:
        problem(post.line("status"), f"status: {post.status!r} is not draft or scheduled")
    elif post.status is not None:
        post.status = post.status.lower()
    queue = data.get("queue")
    if queue is not None and queue is not False:
        post.queue = True
    if "media" in data and data["media"] is not None:
        post.media = _strings(data["media"], "media", post, problem)
    if "labels" in data and data["labels"] is not None:
        value = data["labels"]
        raw = (
            value.split(",") if isinstance(value, str) else _strings(value, "labels", post, problem)
        )
        post.labels = [label.strip() for label in raw if label.strip()]
    variants = data.get("variants")
    if variants is not None:
        if not isinstance(variants, dict) or not all(isinstance(v, str) for v in variants.values()):
            problem(post.line("variants"), "variants: give `account: text` lines")
        else:
            post.variants = {str(k): v.strip() for k, v in variants.items()}
    republish = data.get("republish")
    if republish is not None:
        if not isinstance(republish, bool):
            problem(post.line("republish"), "republish: true or false")
        else:
            post.republish = republish


def read_folder(root: Path) -> tuple[list[PostFile], list[FileError]]:
    errors: list[FileError] = []
    files = []
    for relative, path in list_files(root):
        post = read_file(relative, path, errors)
        if post is not None:
            files.append(post)
    return files, errors


def render(front: dict[str, Any], text: str) -> str:
    """A file's content: front matter (in FIELDS order) and the text."""
    import yaml

    ordered = {name: front[name] for name in FIELDS if front.get(name) not in (None, [], {})}
    matter = yaml.safe_dump(
        ordered, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return f"---\n{matter}---\n{text.strip()}\n"
