"""Kazakhstan plates: every format, the separators, Cyrillic look-alikes and OCR confusions, refusals."""

from __future__ import annotations

import pytest

from kuzet.common.errors import InvalidArgument
from kuzet.common.roads.plates import REGIONS_1993, REGIONS_2012, normalise


@pytest.mark.parametrize(
    ("raw", "text", "fmt", "region", "region_name"),
    [
        ("123ABC02", "123ABC02", "2012", "02", "Almaty"),
        ("123 ABC 01", "123ABC01", "2012", "01", "Astana"),
        ("KZ 777 XYZ 17", "777XYZ17", "2012", "17", "Shymkent"),
        ("001-AB-20", "001AB20", "2012", "20", "Ulytau Region"),
        ("F 1234 16", "F123416", "2012_foreign", "16", "East Kazakhstan Region"),
        ("H0001|05", "H000105", "2012_foreign", "05", "Almaty Region"),
        ("A 585 CUO", "A585CUO", "1993", "A", "Almaty"),
        ("Z001AA", "Z001AA", "1993", "Z", "Astana"),
        ("d916eca", "D916ECA", "1993", "D", "Aktobe Region"),
    ],
)
def test_every_format_reads_to_its_normal_form_and_region(
    raw: str, text: str, fmt: str, region: str, region_name: str
) -> None:
    reading = normalise(raw, 0.93)
    assert (reading.text, reading.format, reading.region, reading.region_name) == (
        text,
        fmt,
        region,
        region_name,
    )
    assert reading.raw == raw
    assert reading.confidence == 0.93
    assert reading.corrections == 0


def test_cyrillic_look_alikes_become_latin() -> None:
    # the Cyrillic letters, as a Russian keyboard or a Cyrillic OCR model gives them
    assert normalise("123 АВС 02").text == "123ABC02"  # noqa: RUF001
    assert normalise("Н 123 КМО").text == "H123KMO"  # noqa: RUF001
    assert normalise("777ртх05").text == "777PTX05"  # noqa: RUF001
    assert normalise("123АВС02").corrections == 0  # noqa: RUF001


@pytest.mark.parametrize(
    ("raw", "text", "corrections"),
    [
        ("I23ABC0Z", "123ABC02", 2),  # I and Z where digits belong
        ("123A8C02", "123ABC02", 1),  # 8 where a letter belongs
        ("1Z3O5C02", "123OSC02", 2),  # O stays a letter in a letter's place, 5 becomes S
        ("S0B AB O2", "508AB02", 3),
        ("0 123 ABC", "O123ABC", 1),  # the 1993 region letter O read as a zero
        ("123 AB6 1G", "123ABG16", 2),
        ("A12D BCE", "A120BCE", 1),
    ],
)
def test_ocr_confusions_are_corrected_by_position(raw: str, text: str, corrections: int) -> None:
    reading = normalise(raw)
    assert (reading.text, reading.corrections) == (text, corrections)


def test_typed_text_gets_no_ocr_correction() -> None:
    assert normalise("123 abc 02", ocr=False).text == "123ABC02"
    with pytest.raises(InvalidArgument, match="not a Kazakhstan plate"):
        normalise("I23ABC02", ocr=False)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        (" - ", "empty"),
        ("123ÄBC02", "characters no Kazakhstan plate carries"),
        ("12ABC02", "not a Kazakhstan plate"),
        ("1234ABC02", "not a Kazakhstan plate"),
        ("123ABC21", "not a Kazakhstan plate"),  # no region 21
        ("123ABC00", "not a Kazakhstan plate"),
        ("G123ABC", "not a Kazakhstan plate"),  # G was no region's letter
        ("X123456", "not a Kazakhstan plate"),  # foreign plates are F or H
        ("ABCDEFGH", "not a Kazakhstan plate"),
    ],
)
def test_malformed_plates_are_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(InvalidArgument, match=why):
        normalise(raw)


def test_a_cameras_read_drops_border_and_emblem_marks_a_typed_plate_does_not() -> None:
    assert normalise("[123°ABC02]").text == "123ABC02"
    with pytest.raises(InvalidArgument, match="characters no Kazakhstan plate carries"):
        normalise("123ABC02!", ocr=False)


def test_a_read_two_formats_explain_equally_well_is_refused_as_ambiguous() -> None:
    # 2012 organisation 812SA02 (B->8, 5->S) or 1993 B125AOZ (0->O, 2->Z): two corrections each
    with pytest.raises(InvalidArgument, match="ambiguous: it reads as 812SA02, B125AOZ"):
        normalise("B125A02")


def test_the_fewer_corrections_win() -> None:
    # 2012 (no correction) rather than anything else of eight characters
    assert normalise("100OOO02").text == "100OOO02"


@pytest.mark.parametrize("confidence", [-0.1, 1.5, float("nan")])
def test_a_confidence_outside_zero_to_one_is_refused(confidence: float) -> None:
    with pytest.raises(InvalidArgument, match="confidence"):
        normalise("123ABC02", confidence)


def test_region_tables() -> None:
    assert sorted(REGIONS_2012) == [f"{n:02d}" for n in range(1, 21)]
    assert len(REGIONS_1993) == 21
    assert all(len(code) == 1 and code.isupper() for code in REGIONS_1993)
