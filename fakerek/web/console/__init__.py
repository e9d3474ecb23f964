"""The web console: the Custom Labels console's pages under /_fakerek/console/, served by the
same Flask application and built on the same operations as the API. `console.pages` holds the
blueprint with every page registered."""
