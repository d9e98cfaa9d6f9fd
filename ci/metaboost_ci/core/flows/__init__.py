"""The release operations both entry points share (command line and Dagger module).

Each takes a ``ReleaseContext`` and returns a dataclass with ``to_dict()``;
failures raise ``core.errors`` classes (``InputError`` before any write,
``CheckFailed`` listing every problem, ``RemoteError`` when a remote refused).
"""

from .context import ReleaseContext, per_app
from .discover import AppTags, Discovery, discover
from .floating import FloatingMove, move_floating
from .hold import RollbackRecord, read_rollback_record
from .notes import ReleaseNotes, changelog_path, fallback_notes, read_release_notes
from .plan import AppPlan, PromotionPlan, plan_promotion
from .promote import Promotion, promote
from .release import ReleaseOutcome, ensure_tag, release
from .reserve import Reservation, reserve
from .rollback import Rollback, rollback
from .status import ReleaseStatus, read_status
from .summary import ImageRow, PublishSummary
from .verify import REVISION_LABEL, Verification, read_revisions, verify

__all__ = [
    "REVISION_LABEL",
    "AppPlan",
    "AppTags",
    "Discovery",
    "FloatingMove",
    "ImageRow",
    "Promotion",
    "PromotionPlan",
    "PublishSummary",
    "ReleaseContext",
    "ReleaseNotes",
    "ReleaseOutcome",
    "ReleaseStatus",
    "Reservation",
    "Rollback",
    "RollbackRecord",
    "Verification",
    "changelog_path",
    "discover",
    "ensure_tag",
    "fallback_notes",
    "move_floating",
    "per_app",
    "plan_promotion",
    "promote",
    "read_release_notes",
    "read_revisions",
    "read_rollback_record",
    "read_status",
    "release",
    "reserve",
    "rollback",
    "verify",
]
