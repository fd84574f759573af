"""The visible checks of gradient-descent.ipynb: each test cell runs check_question("<question>", globals())."""

from .runtime import notebook_check
from .vocabulary import FUNCTIONS

check_question = notebook_check(__name__, FUNCTIONS)
