"""Problems in a YAML input file, each with its path, line, message and hint.

The lab's topology loader (`lab.schema`) and the connector's config loader
(`connector.config`) both report bad input this way: every problem at once,
each placed on its line. This package is that shared part, and imports
neither of them (an import-linter contract in pyproject.toml), so `lab` and
`connector` still never import each other. It is how each reports its own
input, not something the lab checks in the connector, so sharing it cannot
hide a connector bug from a lab test (docs/decisions.md, "What lab and
connector share").
"""

from yamlissues.issue import Issue
from yamlissues.lines import line_table, nearest_line
from yamlissues.load import located, read_mapping

__all__ = ["Issue", "line_table", "located", "nearest_line", "read_mapping"]
