"""An auto-graded exercise kit for derivatives in PyTorch, on nbgrader."""

__version__ = "0.1.0"
__all__ = ["__version__"]
