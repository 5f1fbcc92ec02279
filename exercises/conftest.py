"""Lets `pytest exercises/lessonN --grade-backend sim --grade-manifests work/lessonN` run a lesson directly."""

pytest_plugins = ["grader.pytest_plugin"]
