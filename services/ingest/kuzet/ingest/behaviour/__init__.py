"""Behaviour analytics over tracked people's keypoints (issue #19): fall, motionless, self-harm
risk posture, climbing, violence.

Pure domain code: a camera's tracks' keypoint histories (keypoints.KeypointHistory) go in, events
with their start, end and the frame times that show them (episode.BehaviourEvent) come out. Each
rule's module documents its definition and thresholds (docs/behaviour.md collects them).
``create(kind, scope, settings)`` builds a rule by its name. Each is a camera rule type of
ingest's one rule registry (pose_rules.py), fed by the live pipeline (poses.py).
"""

from kuzet.ingest.behaviour.climbing import Climbing, ClimbingConfig
from kuzet.ingest.behaviour.episode import BehaviourEvent
from kuzet.ingest.behaviour.fall import Fall, FallConfig
from kuzet.ingest.behaviour.keypoints import KeypointHistory, Skeleton
from kuzet.ingest.behaviour.motionless import Motionless, MotionlessConfig
from kuzet.ingest.behaviour.rule import BehaviourRule, RuleConfig, behaviours, create
from kuzet.ingest.behaviour.scope import CalibrationLine, Scope
from kuzet.ingest.behaviour.selfharm import SelfHarm, SelfHarmConfig
from kuzet.ingest.behaviour.violence import Violence, ViolenceConfig

__all__ = [
    "BehaviourEvent",
    "BehaviourRule",
    "CalibrationLine",
    "Climbing",
    "ClimbingConfig",
    "Fall",
    "FallConfig",
    "KeypointHistory",
    "Motionless",
    "MotionlessConfig",
    "RuleConfig",
    "Scope",
    "SelfHarm",
    "SelfHarmConfig",
    "Skeleton",
    "Violence",
    "ViolenceConfig",
    "behaviours",
    "create",
]
