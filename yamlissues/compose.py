"""A YAML document's node tree (marks with file, line and offset) at libyaml's speed.

The lab's topology loader composes every file of an `extends:` chain into nodes,
so that each value keeps where it was written. PyYAML's own parser is pure Python
and spent about four fifths of loading a cloud topology (four files); libyaml's
(`yaml.CSafeLoader`, in PyPI's PyYAML wheels) gives the same nodes, marks and
offsets. What libyaml refuses is composed again by PyYAML, whose error is the one
raised, so the message names what was found where, as before. (libyaml reads a
few inputs PyYAML refuses, such as a tab inside a plain scalar; the connector's
config loader, `yamlissues.load`, follows libyaml there too.)
"""

from __future__ import annotations

import io

import yaml
from yaml import Node

# libyaml's parser with PyYAML's safe constructor and resolver: the same values as
# `yaml.safe_load`, ten times faster (PyPI's PyYAML wheels include libyaml).
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_node(text: str, name: str) -> Node | None:
    """The document in `text` as nodes whose marks name `name`; raises yaml.YAMLError
    (PyYAML's) when it is not one valid YAML document."""
    if SAFE_LOADER is not yaml.SafeLoader:
        stream = io.StringIO(text)
        stream.name = name  # libyaml's marks take the stream's name
        fast = SAFE_LOADER(stream)
        try:
            return fast.get_single_node()  # type: ignore[no-any-return]
        except yaml.YAMLError:
            pass  # PyYAML's parser decides, and says what it found where
        finally:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    loader.name = name
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()
