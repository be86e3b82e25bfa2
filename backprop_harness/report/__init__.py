"""The reports of a conformance run: the HTML page and its heat maps."""
