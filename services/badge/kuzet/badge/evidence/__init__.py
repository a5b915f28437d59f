"""Evidence: resumable hashed upload, storage that is never overwritten, custody, retention, verification.

One EvidenceStore serves every evidence call of BadgeService; each seam is a part of it in its own
module, over the shared state of base.py:

upload.py, staging.py, commit.py   UploadEvidence: chunks checked, staged and confirmed so a broken
                                   upload resumes; the whole file checked, stored once under a
                                   fresh key and committed with its first custody steps
access.py                          reading, listing, custody chains, shares and exports
retention.py                       policies, retain-until dates, legal holds, the deletion sweep
verification.py                    stored objects re-hashed against their recorded SHA-256
"""

from __future__ import annotations

from kuzet.badge.evidence.access import Access
from kuzet.badge.evidence.retention import Retention
from kuzet.badge.evidence.upload import Uploads
from kuzet.badge.evidence.verification import Verification

__all__ = ["EvidenceStore"]


class EvidenceStore(Uploads, Access, Retention, Verification):
    """The evidence calls of BadgeService and the retention and verification jobs."""
