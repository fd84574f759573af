"""The exception a probe raises when it gets no usable reply; it imports nothing, so the judge's
worker client can share it without loading torch."""

__all__ = ["ProbeFailed"]


class ProbeFailed(Exception):
    """The probe could not answer (worker died, timed out, or replied with an error)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # "error" or "timeout"
        self.message = message
