"""Pages people open (feedback, formgrader's grading view): student text made inert, in linear time."""
