"""The console's blueprint with every page registered on it (importing the page modules does)."""

from fakerek.console import dataset_page, model_page, projects_page, test_double_page
from fakerek.console.web import PREFIX, blueprint

__all__ = ["PREFIX", "blueprint", "dataset_page", "model_page", "projects_page", "test_double_page"]
