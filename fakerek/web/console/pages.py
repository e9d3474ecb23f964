"""The console's blueprint with every page registered on it (importing the page modules does)."""

from fakerek.web.console import (
    adapter_page,
    controls_page,
    dataset_page,
    model_page,
    projects_page,
)
from fakerek.web.console.web import PREFIX, blueprint

__all__ = [
    "PREFIX",
    "blueprint",
    "adapter_page",
    "dataset_page",
    "model_page",
    "projects_page",
    "controls_page",
]
