"""Where the kit's page templates are, and the exporter that writes feedback pages."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from grader.pages.highlight import highlight_code

__all__ = ["FeedbackExporter", "TEMPLATE_DIR", "template_basedirs", "inert_pages"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def template_basedirs() -> list[str]:
    """The kit's templates (which put the page's policy into nbgrader's), then nbgrader's own."""
    from grader.nbgrader_package import formgrader_templates

    return [str(TEMPLATE_DIR), formgrader_templates()]


def inert_pages(config) -> None:
    """Make every page nbconvert renders with `config` inert (docs/pages.md): the kit's templates
    before nbgrader's, its markdown, code and policy filters, InertNotebook before any other
    step, and feedback written by FeedbackExporter. The course config calls it, and so does
    `grader feedback` whatever a course's config says; calling it twice changes nothing."""
    from grader.pages.filters import PAGE_FILTERS
    from grader.pages.notebook import InertNotebook

    steps = [step for step in config.HTMLExporter.get("preprocessors", []) if step is not InertNotebook]
    config.HTMLExporter.extra_template_basedirs = template_basedirs()
    config.HTMLExporter.filters = dict(PAGE_FILTERS)
    config.HTMLExporter.preprocessors = [InertNotebook, *steps]
    config.GenerateFeedback.exporter_class = FeedbackExporter


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter without its last pass, for feedback pages.

    HTMLExporter parses each finished page again with BeautifulSoup to give images without an
    alt text one and lab cells a tabindex; the kit's markdown gives every image an alt text and
    nbgrader's feedback template is a classic one, so the pass only rewrote the page, at a third
    of a page's time. `grader feedback` and `nbgrader generate_feedback` both write through it.
    """

    def from_file(self, file_stream, resources=None, **kw):
        """The notebook as JSON, without nbformat's schema validation, which only logs what it
        finds (about a tenth of a page's time): every cell is rebuilt by InertNotebook anyway."""
        nb = nbformat.from_dict(json.load(file_stream))
        if nb.get("nbformat") != 4:
            nb = nbformat.convert(nb, 4)
        return self.from_notebook_node(nb, resources=resources, **kw)

    def _preprocess(self, nb, resources):
        """Each step in turn, without nbconvert's second deep copy of the notebook (from_notebook_node
        made one), its normalisation and its schema validation (together about a fifth of a page's
        time): InertNotebook, among the steps, rebuilds every cell from known fields. The
        resources are still copied, so what a step writes there never reaches the caller's."""
        resources = copy.deepcopy(resources)
        for preprocessor in self._preprocessors:
            nb, resources = preprocessor(nb, resources)
        return nb, resources

    def from_notebook_node(self, nb, resources=None, **kw):
        self.register_filter("highlight_code", self.filters.get("highlight_code", highlight_code))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)
