"""bump-version: the version edits of ``devtools.monorepo`` applied to a Directory.

``devtools.monorepo.plan_bump`` reads the monorepo through a ``Tree``;
``DirectoryTree`` is that Tree over a ``dagger.Directory``, so the command line
and the module make the same plan. The result holds only the changed files
(package.json files, the lockfile with its versions edited in place, the new
changelog), so that ``dagger call bump-version --version X.Y.Z -o .`` writes
exactly those. A version bump changes versions only: nothing is re-resolved
(the ``lockfile`` function regenerates the lockfile when dependencies changed).
"""

from __future__ import annotations

import dagger
from dagger import dag

from ..core.errors import ConfigError
from ..core.versions import base_version, package_version
from ..devtools.monorepo import ROOT_PACKAGE, BumpPlan, plan_bump


class DirectoryTree:
    """``devtools.monorepo.Tree`` over a ``dagger.Directory``."""

    def __init__(self, directory: dagger.Directory) -> None:
        self.directory = directory

    async def read(self, path: str) -> str | None:
        if not await self.directory.exists(path, expected_type=dagger.ExistsType.REGULAR_TYPE):
            return None
        return await self.directory.file(path).contents()

    async def glob(self, pattern: str) -> list[str]:
        return sorted(await self.directory.glob(pattern))


def apply_plan(directory: dagger.Directory, plan: BumpPlan) -> dagger.Directory:
    """``directory`` with every changed file of ``plan`` written."""
    for path, text in sorted(plan.changed.items()):
        directory = directory.with_new_file(path, text)
    return directory


async def bump_version(source: dagger.Directory, version: str) -> tuple[BumpPlan, dagger.Directory]:
    """The plan, and a Directory holding only what changes (lockfile versions included)."""
    plan = await plan_bump(DirectoryTree(source), version)
    return plan, apply_plan(dag.directory(), plan)


async def read_base_version(source: dagger.Directory) -> str:
    """X.Y.Z of the root package.json of ``source`` (prerelease stripped)."""
    text = await DirectoryTree(source).read(ROOT_PACKAGE)
    if text is None:
        raise ConfigError(
            "The source has no package.json at its root.",
            fix="Pass --source with the monorepo root.",
        )
    return base_version(package_version(text, ROOT_PACKAGE))
