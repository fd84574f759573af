"""The kit's check runtime. Here, in the course's source, it is the installed kit's;
`grader release` puts a copy of it in its place beside the release's checks."""

from grader.runtime import *  # noqa: F403
from grader.runtime import __all__  # noqa: F401
