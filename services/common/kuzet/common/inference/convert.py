"""Conversions between the service's results and its protobuf messages (both directions: the
server sends them, the client reads them)."""

from __future__ import annotations

import numpy as np

from kuzet.common.inference import results as r
from kuzet.common.v1 import common_pb2
from kuzet.inference.v1 import inference_pb2 as pb

CLASS_TO_ENUM = {
    "person": pb.OBJECT_CLASS_PERSON,
    "bicycle": pb.OBJECT_CLASS_BICYCLE,
    "car": pb.OBJECT_CLASS_CAR,
    "motorcycle": pb.OBJECT_CLASS_MOTORCYCLE,
    "bus": pb.OBJECT_CLASS_BUS,
    "truck": pb.OBJECT_CLASS_TRUCK,
    "boat": pb.OBJECT_CLASS_BOAT,
}
ENUM_TO_CLASS = {v: k for k, v in CLASS_TO_ENUM.items()}
ISSUE_TO_ENUM = {
    "too_small": pb.QUALITY_ISSUE_TOO_SMALL,
    "blurry": pb.QUALITY_ISSUE_BLURRY,
    "pose": pb.QUALITY_ISSUE_POSE,
}
ENUM_TO_ISSUE = {v: k for k, v in ISSUE_TO_ENUM.items()}
# BodyPart enum values follow BODY_PARTS order from 1.
PART_TO_ENUM = {name: pb.BodyPart.Value(f"BODY_PART_{name.upper()}") for name in r.BODY_PARTS}
ENUM_TO_PART = {v: k for k, v in PART_TO_ENUM.items()}
TASK_TO_ENUM = {
    "object_detection": pb.MODEL_TASK_OBJECT_DETECTION,
    "face_detection": pb.MODEL_TASK_FACE_DETECTION,
    "face_embedding": pb.MODEL_TASK_FACE_EMBEDDING,
    "pose_estimation": pb.MODEL_TASK_POSE_ESTIMATION,
    "text_detection": pb.MODEL_TASK_TEXT_DETECTION,
    "text_recognition": pb.MODEL_TASK_TEXT_RECOGNITION,
}


def box_pb(b: r.Box) -> common_pb2.Box:
    return common_pb2.Box(x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2)


def box(m: common_pb2.Box) -> r.Box:
    return r.Box(m.x1, m.y1, m.x2, m.y2)


def model_pb(m: r.ModelRef) -> pb.ModelRef:
    return pb.ModelRef(name=m.name, version=m.version)


def model(m: pb.ModelRef) -> r.ModelRef:
    return r.ModelRef(m.name, m.version)


def objects_pb(item: r.ImageObjects) -> pb.ImageObjects:
    return pb.ImageObjects(
        objects=[
            pb.DetectedObject(
                box=box_pb(o.box),
                score=o.score,
                object_class=CLASS_TO_ENUM[o.class_name],
                class_name=o.class_name,
            )
            for o in item.objects
        ],
        image_width=item.width,
        image_height=item.height,
    )


def objects(m: pb.ImageObjects) -> r.ImageObjects:
    # The class comes from the typed enum; the name serves only for a class this client does not know.
    return r.ImageObjects(
        [
            r.DetectedObject(box(o.box), o.score, ENUM_TO_CLASS.get(o.object_class, o.class_name))
            for o in m.objects
        ],
        m.image_width,
        m.image_height,
    )


def faces_pb(item: r.ImageFaces) -> pb.ImageFaces:
    return pb.ImageFaces(
        faces=[
            pb.DetectedFace(
                box=box_pb(f.box),
                score=f.score,
                landmarks=[common_pb2.Point(x=x, y=y) for x, y in f.landmarks],
            )
            for f in item.faces
        ],
        image_width=item.width,
        image_height=item.height,
    )


def faces(m: pb.ImageFaces) -> r.ImageFaces:
    return r.ImageFaces(
        [r.DetectedFace(box(f.box), f.score, [(p.x, p.y) for p in f.landmarks]) for f in m.faces],
        m.image_width,
        m.image_height,
    )


def quality_pb(q: r.FaceQuality) -> pb.FaceQuality:
    return pb.FaceQuality(
        score=q.score,
        size_score=q.size_score,
        blur_score=q.blur_score,
        pose_score=q.pose_score,
        issues=[ISSUE_TO_ENUM[i] for i in q.issues],
        inter_eye_px=q.inter_eye_px,
        sharpness=q.sharpness,
        yaw_asymmetry=q.yaw_asymmetry,
        roll_deg=q.roll_deg,
    )


def quality(m: pb.FaceQuality) -> r.FaceQuality:
    return r.FaceQuality(
        score=m.score,
        size_score=m.size_score,
        blur_score=m.blur_score,
        pose_score=m.pose_score,
        issues=tuple(ENUM_TO_ISSUE[i] for i in m.issues if i in ENUM_TO_ISSUE),
        inter_eye_px=m.inter_eye_px,
        sharpness=m.sharpness,
        yaw_asymmetry=m.yaw_asymmetry,
        roll_deg=m.roll_deg,
    )


def embedding_pb(e: r.FaceEmbedding) -> pb.FaceEmbedding:
    return pb.FaceEmbedding(
        vector=e.vector.tolist(),
        quality=quality_pb(e.quality),
        model=model_pb(e.model),
        aligned_crop_jpeg=e.aligned_crop_jpeg,
    )


def embedding(m: pb.FaceEmbedding) -> r.FaceEmbedding:
    return r.FaceEmbedding(
        np.asarray(m.vector, np.float32), quality(m.quality), model(m.model), m.aligned_crop_jpeg
    )


def poses_pb(item: r.ImagePoses) -> pb.ImagePoses:
    return pb.ImagePoses(
        poses=[
            pb.Pose(
                box=box_pb(p.box),
                score=p.score,
                keypoints=[
                    pb.Keypoint(
                        part=PART_TO_ENUM[k.part], point=common_pb2.Point(x=k.x, y=k.y), score=k.score
                    )
                    for k in p.keypoints
                ],
            )
            for p in item.poses
        ],
        image_width=item.width,
        image_height=item.height,
    )


def poses(m: pb.ImagePoses) -> r.ImagePoses:
    return r.ImagePoses(
        [
            r.Pose(
                box(p.box),
                p.score,
                [
                    r.Keypoint(ENUM_TO_PART.get(k.part, "unknown"), k.point.x, k.point.y, k.score)
                    for k in p.keypoints
                ],
            )
            for p in m.poses
        ],
        m.image_width,
        m.image_height,
    )


def plates_pb(item: r.ImagePlates) -> pb.ImagePlates:
    return pb.ImagePlates(
        plates=[
            pb.ReadPlate(
                box=box_pb(p.box),
                corners=[common_pb2.Point(x=x, y=y) for x, y in p.corners],
                text=p.text,
                confidence=p.confidence,
                detection_score=p.detection_score,
            )
            for p in item.plates
        ],
        image_width=item.width,
        image_height=item.height,
    )


def plates(m: pb.ImagePlates) -> r.ImagePlates:
    return r.ImagePlates(
        [
            r.ReadPlate(box(p.box), [(c.x, c.y) for c in p.corners], p.text, p.confidence, p.detection_score)
            for p in m.plates
        ],
        m.image_width,
        m.image_height,
    )
