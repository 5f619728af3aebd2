"""The dashboard's pages: server-rendered with Jinja2, kept live by a little JavaScript."""
