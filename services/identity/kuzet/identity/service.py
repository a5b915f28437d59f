"""The IdentityService RPCs: galleries, enrolment, erasure, 1:N / 1:1 matching, track matching,
review, image viewing, re-embedding and the watchlist change stream. Every one of them writes an audit record.

Rules that protect people, enforced here:
- a caller sees and searches only its own agency's galleries and those explicitly shared with it;
  only the owning agency enrols, erases, shares or reviews;
- a match is a candidate until ``required_reviewers`` distinct reviewers confirm it; one
  rejection ends it; nobody reviews a search they ran themselves;
- expired galleries and watchlist entries never match;
- embeddings of different models are never compared.
"""

from __future__ import annotations

from kuzet.identity.galleries import GalleryRpcs
from kuzet.identity.matching import MatchingRpcs
from kuzet.identity.review import ReviewRpcs
from kuzet.identity.watchlistfeed import WatchlistFeedRpcs


class IdentityServicer(GalleryRpcs, MatchingRpcs, ReviewRpcs, WatchlistFeedRpcs):
    """Every RPC of kuzet.identity.v1.IdentityService (state and helpers in rpcbase.ServicerBase)."""
