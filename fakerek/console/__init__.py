"""The web console: the Custom Labels console's pages under /_fakerek/console/, served by the
same Flask application and built on the same operations as the API.

Importing this package registers every page on `blueprint`.
"""

from fakerek.console import dataset_page, model_page, projects_page, test_double_page
from fakerek.console.web import PREFIX, blueprint

__all__ = ["PREFIX", "blueprint", "dataset_page", "model_page", "projects_page", "test_double_page"]
