"""The kit's check runtime. Here, in the course's source, it is the installed kit's; the release
(`grader release`, or nbgrader with the course's nbgrader_config.py) puts a copy of it in its place."""

try:
    from grader.runtime import *  # noqa: F403
    from grader.runtime import __all__  # noqa: F401
except ModuleNotFoundError as missing:
    if missing.name != "grader":
        raise
    raise ModuleNotFoundError("this release was made without the grading kit's step, so its checks cannot "
                              "run: it must come from `grader release`", name="grader") from None
