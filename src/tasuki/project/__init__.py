"""Projects made from tasuki's template: ``tasuki new``, ``tasuki update``, ``tasuki doctor``.

The template is copier's, shipped in the package (``tasuki/template``); see docs/template.md.
"""

from __future__ import annotations

from tasuki.project._doctor import Check, doctor
from tasuki.project._names import check_package
from tasuki.project._new import NewProject, new_project
from tasuki.project._templates import materialize, template_versions
from tasuki.project._update import UpdateResult, update_project

__all__ = [
    "Check",
    "NewProject",
    "UpdateResult",
    "check_package",
    "doctor",
    "materialize",
    "new_project",
    "template_versions",
    "update_project",
]
