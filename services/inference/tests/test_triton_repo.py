"""The Triton model repository: generated configs are valid for Triton and match what is committed."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from kuzet.inference.catalog import load_catalog
from kuzet.inference.tritonrepo import config_pbtxt, generate

INFRA_MODELS = Path(__file__).resolve().parents[3] / "infra" / "models"


def _parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


@pytest.mark.parametrize("variant", ["production", "ci"])
def test_every_generated_config_parses_with_tritons_model_config(variant: str) -> None:
    for spec in load_catalog():
        config = _parse(config_pbtxt(spec, variant, "/site-packages"))
        assert config.name == spec.name
        assert config.max_batch_size == spec.max_batch_size
        assert [i.name for i in config.input] == [t.name for t in spec.inputs]
        assert [o.name for o in config.output] == spec.output_names
        if variant == "production":
            assert config.platform == "onnxruntime_onnx"
            assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
        else:
            assert config.backend == "python"
            assert config.parameters["site_packages"].string_value == "/site-packages"
        if spec.max_batch_size > 0:
            assert config.dynamic_batching.max_queue_delay_microseconds > 0
            assert max(config.dynamic_batching.preferred_batch_size) <= spec.max_batch_size
        else:
            assert not config.HasField("dynamic_batching")


def test_committed_production_repository_is_current() -> None:
    committed = sorted(p.parent.name for p in INFRA_MODELS.glob("*/config.pbtxt"))
    assert committed == sorted(m.name for m in load_catalog())
    for spec in load_catalog():
        text = (INFRA_MODELS / spec.name / "config.pbtxt").read_text()
        assert text == config_pbtxt(spec, "production"), (
            f"regenerate: kuzet-triton-repo --out infra/models ({spec.name})"
        )
        _parse(text)


def test_generator_writes_a_complete_ci_repository(tmp_path: Path) -> None:
    written = generate(tmp_path, "ci", link=True, models=["sface"])
    assert written == [tmp_path / "sface" / "config.pbtxt"]
    version = tmp_path / "sface" / "1"
    assert (version / "model.onnx").resolve() == load_catalog().models["sface"].path
    assert "class TritonPythonModel" in (version / "model.py").read_text()
