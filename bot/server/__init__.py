"""The HTTP server: the app factory (app.py), admission, admin endpoints, hot swap."""
