"""The steps of nbgrader's autograde, the course's and stock nbgrader's, by name (importing no nbgrader)."""

__all__ = ["KIT_AUTOGRADE_PREPROCESSORS", "KIT_SANITIZE_PREPROCESSORS", "STOCK_AUTOGRADE_PREPROCESSORS",
           "STOCK_SANITIZE_PREPROCESSORS"]

# nbgrader's autograde steps with Execute replaced by the kit's judge. The order is nbgrader's
# (converters/autograde.py): the verdicts must be in the notebook before they are saved, and late
# penalties are applied to the saved grades.
KIT_AUTOGRADE_PREPROCESSORS = [
    "grader.judge.nbgrader_preprocessor.KitJudge",      # was Execute: student code runs only in the kit's workers
    "nbgrader.preprocessors.IgnorePattern",              # harmless: filters outputs
    "nbconvert.preprocessors.ClearMetadataPreprocessor",  # harmless: disabled unless configured
    "nbgrader.preprocessors.LimitOutput",                # harmless: caps outputs
    "grader.judge.nbgrader_preprocessor.SaveVerdicts",  # was SaveAutoGrades: the same rows, one commit
    "grader.judge.nbgrader_preprocessor.LatePenalties",  # nbgrader's AssignLatePenalties, where it can matter
    # no CheckCellMetadata: every cell's nbgrader metadata is the release's, which generate_assignment
    # checked; the cells the kit adds (a student's extra cells, for the TA to see) carry none
]

# nbgrader sanitizes a submitted notebook before it runs it, so that what the student changed
# cannot count. With the kit's judge no submitted notebook runs or is kept: the judge reads the
# submitted file itself (bounded, as data) and hands nbgrader a notebook rebuilt from the release
# (grader.record.notebook), which already holds what each step would establish:
# - ClearOutput (outputs the student saved, a forged "passed" among them): the test cells'
#   outputs are the verdicts, an answer's output is what the kit's worker printed;
# - DeduplicateIds (a second cell claiming a grade id): answers are located by the release's
#   ids, the first claim only; any other cell is shown to the TA without nbgrader metadata;
# - OverwriteKernelspec (the kernel the notebook will run in): nothing runs in a kernel, and the
#   notebook's metadata is the release's;
# - OverwriteCells (locked and test cells, their points and metadata, restored): every
#   instructor cell is the release's own, points included; submitted test cells are ignored;
# - CheckCellMetadata (malformed nbgrader metadata refused): the metadata is the release's,
#   which generate_assignment checked.
KIT_SANITIZE_PREPROCESSORS: list = []

# nbgrader 0.9.6's own lists, for comparing the stock path with the kit's (the bench and tests do).
STOCK_AUTOGRADE_PREPROCESSORS = [
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
STOCK_SANITIZE_PREPROCESSORS = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
