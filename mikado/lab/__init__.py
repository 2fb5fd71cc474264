"""The built-in lab: local stand-ins for the services a chain talks to (`mikado run --lab`)."""
