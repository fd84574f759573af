"""The assignment's questions: ids, points and the names each answer defines (a contract)."""

from dataclasses import dataclass

__all__ = ["ASSIGNMENT", "NOTEBOOK", "Question", "QUESTIONS", "AUTOGRADED", "MANUAL", "question"]

ASSIGNMENT = "derivatives"
NOTEBOOK = "derivatives"  # the notebook's file name without .ipynb


@dataclass(frozen=True)
class Question:
    """One graded question: its solution cell's grade_id is `id`, its test cell is `test_<id>`."""

    id: str
    points: int
    names: tuple[str, ...]  # what the student's answer defines in the notebook's namespace
    manual: bool = False

    @property
    def test_cell_id(self) -> str:
        return f"test_{self.id}"


QUESTIONS: tuple[Question, ...] = (
    Question("grad_at", 2, ("grad_at",)),
    Question("attributes", 1, ("ATTRIBUTES",)),
    Question("derivative_on_grid", 2, ("derivative_on_grid",)),
    Question("plot_function_and_derivative", 2, ("plot_function_and_derivative",)),
    Question("partial_derivatives", 2, ("partial_derivatives",)),
    Question("SQ", 3, ("SQ",)),
    Question("MulConstant", 2, ("MulConstant",)),
    Question("leaves", 2, ("LEAF_PREDICTIONS", "leaf_and_intermediate_grads")),
    Question("explain_bug", 1, (), manual=True),
)

AUTOGRADED: tuple[Question, ...] = tuple(q for q in QUESTIONS if not q.manual)
MANUAL: tuple[Question, ...] = tuple(q for q in QUESTIONS if q.manual)


def question(question_id: str) -> Question:
    """The question with this id; KeyError names the known ids."""
    for q in QUESTIONS:
        if q.id == question_id:
            return q
    raise KeyError(f"no question {question_id!r}; known: {', '.join(q.id for q in QUESTIONS)}")
