"""Kazakhstan registration plates: from raw text (an OCR read or a typed entry) to one normal form.

The formats (sources in docs/traffic.md):

- ``2012``: since August 2012, three digits, three letters (a person's vehicle) or two (an
  organisation's), then the two-digit region code: ``123ABC02``, ``123AB02``.
- ``2012_foreign``: the yellow plates of foreigners (``F``) and foreign or joint companies
  (``H``): the letter, four digits, the region code: ``F123402``.
- ``1993``: 1993-2012 and still on the road, the region letter, three digits, three letters (a
  person) or two (an organisation): ``A123BCD``, ``A123BC``.

The normal form is upper case Latin with no separators, as ``VehicleObservation.plate`` stores it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kuzet.common.errors import InvalidArgument

# Region codes of the 2012 plates; 17 since Shymkent became a city of republican significance
# (June 2018), 18-20 for the regions formed in 2022.
REGIONS_2012: dict[str, str] = {
    "01": "Astana",
    "02": "Almaty",
    "03": "Akmola Region",
    "04": "Aktobe Region",
    "05": "Almaty Region",
    "06": "Atyrau Region",
    "07": "West Kazakhstan Region",
    "08": "Zhambyl Region",
    "09": "Karaganda Region",
    "10": "Kostanay Region",
    "11": "Kyzylorda Region",
    "12": "Mangystau Region",
    "13": "Turkestan Region",
    "14": "Pavlodar Region",
    "15": "North Kazakhstan Region",
    "16": "East Kazakhstan Region",
    "17": "Shymkent",
    "18": "Abai Region",
    "19": "Jetisu Region",
    "20": "Ulytau Region",
}

# Region letters of the 1993 plates. O and W were each issued in two regions (the source's table
# lists both), so the letter alone cannot tell which.
REGIONS_1993: dict[str, str] = {
    "Z": "Astana",
    "A": "Almaty",
    "C": "Akmola Region",
    "O": "Akmola Region or North Kazakhstan Region",
    "W": "Akmola Region or Kostanay Region",
    "D": "Aktobe Region",
    "B": "Almaty Region",
    "V": "Almaty Region",
    "E": "Atyrau Region",
    "L": "West Kazakhstan Region",
    "H": "Zhambyl Region",
    "K": "Karaganda Region",
    "M": "Karaganda Region",
    "P": "Kostanay Region",
    "N": "Kyzylorda Region",
    "R": "Mangystau Region",
    "X": "South Kazakhstan (Turkestan) Region",
    "S": "Pavlodar Region",
    "T": "North Kazakhstan Region",
    "F": "East Kazakhstan Region",
    "U": "East Kazakhstan Region",
}

# Cyrillic letters that look like Latin ones (Russian and Kazakh keyboards, Cyrillic OCR models):
# a plate carries only Latin letters, so each is the Latin letter it looks like.
_LOOKALIKE_CYRILLIC = "АВЕКМНОРСТУХІЅЈ"  # noqa: RUF001 - the Cyrillic letters, on purpose
_LOOKALIKE_LATIN = "ABEKMHOPCTYXISJ"
_CYRILLIC = str.maketrans(_LOOKALIKE_CYRILLIC + _LOOKALIKE_CYRILLIC.lower(), _LOOKALIKE_LATIN * 2)

# Characters OCR reads one for the other across classes; each pair is (letter, digit). A letter in a
# digit's place becomes its digit and the other way round; nothing else is corrected.
CONFUSABLE: tuple[tuple[str, str], ...] = (
    ("O", "0"),
    ("D", "0"),
    ("Q", "0"),
    ("I", "1"),
    ("Z", "2"),
    ("S", "5"),
    ("G", "6"),
    ("B", "8"),
)
_AS_DIGIT = {letter: digit for letter, digit in CONFUSABLE}
# A digit has one letter it stands for: 0 is read as O (the letter D and Q are read as 0, not back).
_AS_LETTER = {"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"}

# What a raw text may hold besides letters and digits: the separators printed or typed between
# groups, and the frame's vertical bar before the region field.
_SEPARATORS = re.compile(r"[\s\-_.|/]+")
# The country code under the flag, which an OCR line may include.
_COUNTRY = "KZ"


@dataclass(frozen=True)
class _Format:
    name: str
    # one class per character: 'D' a digit, 'L' a letter, 'R' a 2012 region code digit,
    # 'r' a 1993 region letter, 'f' the foreign-plate letter (F or H)
    slots: str

    def region(self, text: str) -> str:
        if "R" in self.slots:
            return text[self.slots.index("R") :][:2]
        if "r" in self.slots:
            return text[self.slots.index("r")]
        return ""


_FORMATS = (
    _Format("2012", "DDDLLLRR"),
    _Format("2012", "DDDLLRR"),
    _Format("2012_foreign", "fDDDDRR"),
    _Format("1993", "rDDDLLL"),
    _Format("1993", "rDDDLL"),
)


@dataclass(frozen=True)
class PlateReading:
    text: str
    format: str
    # "02" (2012 formats) or "A" (1993); region_name says which region that is
    region: str
    region_name: str
    raw: str
    confidence: float
    # characters changed from what was read to fit the format (OCR confusions, see CONFUSABLE)
    corrections: int


def normalise(raw: str, confidence: float = 1.0, *, ocr: bool = True) -> PlateReading:
    """The reading of ``raw`` in one of the formats, or InvalidArgument saying why there is none.

    ``ocr=True`` (a camera's read) also corrects the cross-class confusions of CONFUSABLE by
    position; ``ocr=False`` (text a person typed, such as a hotlist entry) forgives only case,
    separators and Cyrillic look-alikes.
    """
    if not 0.0 <= confidence <= 1.0:
        raise InvalidArgument(f"plate confidence {confidence} is not between 0 and 1")
    compact = _SEPARATORS.sub("", raw.translate(_CYRILLIC).upper())
    if ocr:
        # A camera's line also catches the plate's border, flag and emblem as marks ("[", "°");
        # they are not characters of the plate. A letter outside the alphabet still refuses it.
        compact = "".join(ch for ch in compact if unicodedata.category(ch)[0] in "LN")
    if not compact:
        raise InvalidArgument(f"plate {raw!r} is empty")
    if not compact.isascii() or not compact.isalnum():
        raise InvalidArgument(f"plate {raw!r} has characters no Kazakhstan plate carries")
    candidates = _candidates(compact, ocr)
    if not candidates and compact.startswith(_COUNTRY):
        candidates = _candidates(compact[len(_COUNTRY) :], ocr)
    if not candidates:
        raise InvalidArgument(
            f"plate {raw!r} is not a Kazakhstan plate: expected 123ABC02 or 123AB02 (2012), "
            f"F123402 (2012, foreign) or A123BCD or A123BC (1993) with a known region"
        )
    fewest = min(c[2] for c in candidates)
    best = [c for c in candidates if c[2] == fewest]
    if len({c[0] for c in best}) > 1:
        readings = ", ".join(sorted({c[0] for c in best}))
        raise InvalidArgument(f"plate {raw!r} is ambiguous: it reads as {readings}")
    text, fmt, corrections = best[0]
    region = fmt.region(text)
    region_name = REGIONS_2012[region] if fmt.name.startswith("2012") else REGIONS_1993[region]
    return PlateReading(
        text=text,
        format=fmt.name,
        region=region,
        region_name=region_name,
        raw=raw,
        confidence=confidence,
        corrections=corrections,
    )


def _candidates(compact: str, ocr: bool) -> list[tuple[str, _Format, int]]:
    found = []
    for fmt in _FORMATS:
        if len(fmt.slots) != len(compact):
            continue
        fitted = _fit(compact, fmt, ocr)
        if fitted is not None:
            found.append((fitted[0], fmt, fitted[1]))
    return found


def _fit(compact: str, fmt: _Format, ocr: bool) -> tuple[str, int] | None:
    out: list[str] = []
    corrections = 0
    for char, slot in zip(compact, fmt.slots, strict=True):
        wants_digit = slot in "DR"
        if char.isdigit() != wants_digit:
            if not ocr:
                return None
            swapped = _AS_DIGIT.get(char) if wants_digit else _AS_LETTER.get(char)
            if swapped is None:
                return None
            char = swapped
            corrections += 1
        out.append(char)
    text = "".join(out)
    region = fmt.region(text)
    if ("R" in fmt.slots and region not in REGIONS_2012) or ("r" in fmt.slots and region not in REGIONS_1993):
        return None
    if "f" in fmt.slots and text[0] not in "FH":
        return None
    return text, corrections
