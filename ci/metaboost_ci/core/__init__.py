"""The release core: versions, registry and GitHub clients, tag stores, flows.

Nothing under this package may import ``dagger`` (a test enforces it): the
command line's engine-free commands must start fast and run without an engine.
"""
