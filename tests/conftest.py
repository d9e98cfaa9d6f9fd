"""Shared fixtures live in tests/support/, one module per real part."""

pytest_plugins = [
    "tests.support.registry",
    "tests.support.github",
    "tests.support.gitrepo",
    "tests.support.branches",
]
