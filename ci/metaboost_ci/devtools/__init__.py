"""Developer tools beside the release core: bump-version's monorepo edits,
fast-forward branch syncs and the npm audit gate both run.

They use the core's basics (errors, progress, versions) and never a release
operation; the release core never imports them (tests/test_layering.py).
"""
