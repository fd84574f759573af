"""nbgrader's modules in the kit's own commands, without its package's start-up.

`import nbgrader.api` first runs nbgrader/__init__.py, which imports the Jupyter server
extensions (jupyter_server and the formgrader's handlers) so that a Jupyter server can load
them: about 0.3 s at the start of every command that records, exports, reports or writes
feedback, none of which serves a page. The kit's commands load the package as a plain folder
of modules instead. A Jupyter server (formgrader, the assignment list) and nbgrader's own
commands still import it whole.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

__all__ = ["without_server_extensions", "formgrader_templates"]


def without_server_extensions() -> None:
    """Make `import nbgrader.<module>` load only that module (and what it imports) in this process.

    Nothing changes once nbgrader is imported, or when it is not installed."""
    if "nbgrader" in sys.modules:
        return
    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)  # its __init__ is not run
    sys.modules["nbgrader"] = package
    package.__version__ = importlib.import_module("nbgrader._version").__version__


def formgrader_templates() -> str:
    """The folder of nbgrader's formgrader templates (its handlers' `template_path`), found
    without importing the handlers, which import the Jupyter server."""
    spec = importlib.util.find_spec("nbgrader")
    return os.path.join(spec.submodule_search_locations[0], "server_extensions", "formgrader", "templates")
