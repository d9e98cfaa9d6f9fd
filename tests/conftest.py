"""Shared fixtures live in tests/support/, one module per real part."""

pytest_plugins = [
    "tests.support.registry",
    # gitrepo before github: github imports it, and pytest must load it first.
    "tests.support.gitrepo",
    "tests.support.github",
    "tests.support.branches",
    "tests.support.release",
    # Sets DAGGER_MAIN_OBJECT before anything imports dagger.mod.
    "tests.support.dagger_offline",
    # buildah storage, the node:24 stand-in and the six sample images.
    "tests.support.containers",
]
