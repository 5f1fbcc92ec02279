"""Workshops: many learners on one shared cluster, fenced into their own namespaces, and the instructor's view."""
