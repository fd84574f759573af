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

# nbgrader's sanitizing steps, on the submitted notebook, with OverwriteCells knowing that the
# release's test cells hold no hidden tests: nbgrader's log names a test cell a student edited and
# no untouched one. The grades never depend on them: the kit's judge reads the submitted file
# itself (bounded, as data) and hands nbgrader a notebook rebuilt from the release
# (grader.record.notebook), whose instructor cells, points and metadata are the release's own.
KIT_SANITIZE_PREPROCESSORS = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grader.judge.nbgrader_preprocessor.ReleasedTestCells",  # was OverwriteCells
    "nbgrader.preprocessors.CheckCellMetadata",
]

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
