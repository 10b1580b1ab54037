"""PyYAML loading that keeps line numbers, so YAML problems are reported as file:line.

Mappings and lists remember the line of each key and item. Scalars are read as the text
that was written (`- yes` stays "yes", `- 1.10` stays "1.10"), because every value in the
data formats is text and YAML's implicit typing silently corrupts example utterances.
Only an empty value, `~` or `null` reads as None.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from training.problems import ProblemLog
from training.schema import Source

from .common import read_text

NULL_TAG = "tag:yaml.org,2002:null"
BLOCK_STYLES = ("|", ">")
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class YamlMap(dict):
    """A YAML mapping that knows the 1-based line of itself, of each key and of each value."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[object, int] = {}
        self.value_lines: dict[object, int] = {}

    def line_of(self, key: object) -> int:
        """The line the key was written on (the mapping's own line if the key is absent)."""
        return self.key_lines.get(key, self.line)

    def text_line(self, key: object) -> int:
        """The first line of the key's text: after the `|` or `>` of a block scalar."""
        return self.value_lines.get(key, self.line_of(key))


class YamlList(list):
    """A YAML sequence that knows the 1-based line of itself and of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class YamlProblem(Exception):
    """A document that is not valid YAML, with the 1-based line of the fault."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def parse_yaml(text: str) -> tuple[object, list[tuple[str, int, int]]]:
    """The document as YamlMap/YamlList/str/None, and (key, line, first line) for duplicate keys.

    Raises YamlProblem for invalid YAML.
    """
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = (
            f"{exc.problem} ({exc.context})"
            if exc.problem and exc.context
            else (exc.problem or exc.context)
        )
        raise YamlProblem(f"not valid YAML: {detail}", _line(mark)) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}", None) from exc
    finally:
        loader.dispose()
    duplicates: list[tuple[str, int, int]] = []
    value = None if node is None else _convert(node, {}, duplicates)
    return value, duplicates


def load_yaml(path: Path, display: str, problems: ProblemLog) -> object:
    """Read and parse a YAML file; bad text or syntax becomes an error and returns None."""
    text = read_text(path, display, problems)
    if text is None:
        return None
    try:
        value, duplicates = parse_yaml(text)
    except YamlProblem as exc:
        problems.error(exc.message, Source(display, exc.line))
        return None
    for key, line, first in duplicates:
        problems.warning(
            f"duplicate key {key!r} (first at line {first}); the later value is used",
            Source(display, line),
        )
    return value


def _line(mark: yaml.Mark | None) -> int | None:
    return None if mark is None else mark.line + 1


def _convert(node: Node, seen: dict[int, object], duplicates: list) -> object:
    if isinstance(node, ScalarNode):
        return None if node.tag == NULL_TAG and not node.style else node.value
    if id(node) in seen:
        return seen[id(node)]
    if isinstance(node, SequenceNode):
        return _convert_list(node, seen, duplicates)
    if isinstance(node, MappingNode):
        return _convert_map(node, seen, duplicates)
    raise YamlProblem(f"unsupported YAML node {node.tag}", _line(node.start_mark))


def _convert_list(node: SequenceNode, seen: dict[int, object], duplicates: list) -> YamlList:
    result = YamlList(node.start_mark.line + 1)
    seen[id(node)] = result
    for item in node.value:
        result.append(_convert(item, seen, duplicates))
        result.item_lines.append(item.start_mark.line + 1)
    return result


def _convert_map(node: MappingNode, seen: dict[int, object], duplicates: list) -> YamlMap:
    result = YamlMap(node.start_mark.line + 1)
    seen[id(node)] = result
    for key_node, value_node in node.value:
        key = _convert(key_node, seen, duplicates)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | None):
            raise YamlProblem("a key must be plain text, not a list or mapping", line)
        if key in result:
            duplicates.append((key, line, result.key_lines[key]))
        result[key] = _convert(value_node, seen, duplicates)
        result.key_lines[key] = line
        block = isinstance(value_node, ScalarNode) and value_node.style in BLOCK_STYLES
        result.value_lines[key] = value_node.start_mark.line + 1 + (1 if block else 0)
    return result
