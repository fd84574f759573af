"""An auto-graded exercise kit for derivatives in PyTorch, on nbgrader."""

import sys as _sys

# jsonschema compiles rfc3987-syntax's IRI grammar as it is imported: over a second of every process
# that reads a notebook (nbformat validates with jsonschema), for a package jupyter-events installs for
# its own schemas. No schema the kit validates (nbformat's, nbgrader's) checks an IRI format, so a
# process that imports the kit before jsonschema does without it; one that has jsonschema keeps it.
if "jsonschema" not in _sys.modules:
    _sys.modules.setdefault("rfc3987_syntax", None)

__version__ = "0.1.0"
__all__ = ["__version__"]
