"""Reading the files people have: encodings, BOMs, delimiters, standard input and streams."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore import ValidationError
from crmcore.io import (
    DELIMITERS,
    EncodingError,
    InputError,
    InputLimits,
    read_csv,
    read_jsonl,
    read_rows,
    sniff_delimiter,
)
from crmcore.io._tables import _check_repeated_headers, _csv_from_text, _parse_exact

ROWS = [["Förnamn", "Efternamn", "Ort"], ["Åsa", "Lind", "Göteborg"], ["Jürgen", "Müller", "Köln"]]


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue()


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("encoding", "prefix", "given", "bom"),
    [
        ("utf-8", b"", None, False),
        ("utf-8", b"\xef\xbb\xbf", None, True),
        ("utf-8", b"\xef\xbb\xbf", "utf-8", True),
        ("utf-8", b"\xef\xbb\xbf", "UTF8", True),
        ("cp1252", b"", "cp1252", False),
        ("cp1252", b"", "windows-1252", False),
        ("latin-1", b"", "latin-1", False),
        ("utf-16-le", b"\xff\xfe", None, True),  # Excel's "Unicode text"
        ("utf-16-be", b"\xfe\xff", None, True),
        ("utf-16-le", b"\xff\xfe", "utf-16", True),
        ("utf-16-le", b"", "utf-16", False),
    ],
)
def test_each_encoding_reads_the_same_table(
    tmp_path: Path, encoding: str, prefix: bytes, given: str | None, bom: bool
) -> None:
    delimiter = "\t" if encoding.startswith("utf-16") else ";"
    data = prefix + csv_text(ROWS, delimiter).encode(encoding)
    table = read_csv(write(tmp_path, data), encoding=given)
    assert table.header == tuple(ROWS[0])
    assert table.rows == ROWS[1:]
    assert table.had_bom is bom
    assert table.delimiter == delimiter


def test_without_an_encoding_a_cp1252_file_is_refused_naming_the_offset(tmp_path: Path) -> None:
    data = "name\nJosé Sørensen\n".encode("cp1252")
    with pytest.raises(EncodingError) as info:
        read_csv(write(tmp_path, data))
    message = str(info.value)
    assert info.value.offset == data.index(b"\xe9")
    assert "is not UTF-8 text (invalid byte at offset 8)" in message
    assert "cp1252" in message
    assert "Jos" not in message
    assert "\n" not in message
    assert isinstance(info.value, InputError)


def test_the_offset_counts_the_bom_and_earlier_chunks(tmp_path: Path) -> None:
    # Past the first read (1 MiB), with a BOM in front: the offset is in the file's bytes.
    body = b"name\n" + b"a\n" * 600_000 + b"\xff\n"
    data = b"\xef\xbb\xbf" + body
    with pytest.raises(EncodingError) as info:
        read_csv(write(tmp_path, data))
    assert info.value.offset == data.index(b"\xff")


def test_a_byte_cp1252_does_not_define_is_refused_in_cp1252(tmp_path: Path) -> None:
    with pytest.raises(EncodingError, match=r"is not cp1252 text \(invalid byte at offset 7\)"):
        read_csv(write(tmp_path, b"name\nAb\x81\n"), encoding="cp1252")


def test_a_utf8_file_cut_inside_a_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EncodingError, match="offset 7"):
        read_csv(write(tmp_path, b"name\nAb" + "Å".encode()[:1]))


@pytest.mark.parametrize("encoding", ["no-such-codec", "rot13", "base64", ""])
def test_an_encoding_that_is_none_is_a_validation_error_naming_it(
    tmp_path: Path, encoding: str
) -> None:
    path = write(tmp_path, b"name\nAda\n")
    with pytest.raises(ValidationError) as info:
        read_csv(path, encoding=encoding)
    assert info.value.paths == ("encoding",)


def test_utf16_text_with_a_nul_character_is_still_refused(tmp_path: Path) -> None:
    data = b"\xff\xfe" + "name\nA\x00da\n".encode("utf-16-le")
    with pytest.raises(InputError, match="NUL"):
        read_csv(write(tmp_path, data))


# ------------------------------------------------------------------ delimiters


@pytest.mark.parametrize("delimiter", list(DELIMITERS))
def test_each_delimiter_is_found(tmp_path: Path, delimiter: str) -> None:
    rows = [["name", "email", "note"], ["Lind, Åsa", "asa@example.se", "a;b|c\td"]]
    table = read_csv(write(tmp_path, csv_text(rows, delimiter).encode()))
    assert table.delimiter == delimiter
    assert [list(table.header), *table.rows] == rows


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("name\nAda\n", ","),  # one column
        ("", ","),
        ('"Name; full",Email\n"Lind; Åsa",a@example.se\n', ","),  # quoted delimiters
        ("Förnamn;Efternamn;E-post\nÅsa;Lind;\n", ";"),
        ("a|b\n1|2\n", "|"),
        ("a\tb\tc,d\n1\t2\t3,4\n", "\t"),
        ("a;b\n1,5;2,5\n3,0;4\n", ";"),  # decimal commas
    ],
)
def test_sniffing(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample) == expected


def test_a_forced_delimiter_wins(tmp_path: Path) -> None:
    path = write(tmp_path, b"a;b;c,d\n1;2;3,4\n")
    assert read_csv(path).header == ("a", "b", "c,d")
    assert read_csv(path, delimiter=",").header == ("a;b;c", "d")
    assert read_csv(path, delimiter="|").header == ("a;b;c,d",)


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\n", "a", "1"])
def test_a_delimiter_that_is_none_is_a_validation_error(tmp_path: Path, delimiter: str) -> None:
    with pytest.raises(ValidationError) as info:
        read_csv(write(tmp_path, b"a\n1\n"), delimiter=delimiter)
    assert info.value.paths == ("delimiter",)


def test_sniffing_a_hostile_sample_is_quick() -> None:
    # csv.Sniffer's regular expressions see at most the first 64 KiB.
    import time

    started = time.perf_counter()
    sniff_delimiter('"' * 5_000_000)
    sniff_delimiter(",\"'" * 2_000_000)
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------- stdin and streams


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_dash_reads_standard_input_as_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\xef\xbb\xbf" + csv_text(ROWS, ";").encode()
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    table = read_rows("-")
    assert (table.header, table.rows, table.had_bom) == (tuple(ROWS[0]), ROWS[1:], True)
    monkeypatch.setattr(sys, "stdin", _Stdin(b'{"name": "Ada"}\n'))
    assert read_rows(Path("-")).rows == [["Ada"]]


def test_standard_input_is_named_in_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(b"name\nJos\xe9\n"))
    with pytest.raises(EncodingError, match=r"^<stdin>: is not UTF-8"):
        read_csv("-")
    monkeypatch.setattr(sys, "stdin", _Stdin(b""))
    with pytest.raises(InputError, match=r"^<stdin>: is empty"):
        read_rows("-")


def test_streams_of_text_and_of_bytes() -> None:
    text = csv_text(ROWS, "\t")
    assert read_rows(io.StringIO(text)).rows == ROWS[1:]
    assert read_rows(io.BytesIO(text.encode("cp1252")), encoding="cp1252").rows == ROWS[1:]
    lines = "".join(json.dumps(dict(zip(ROWS[0], r, strict=True))) + "\n" for r in ROWS[1:])
    assert read_rows(io.StringIO("\n" + lines)).rows == ROWS[1:]
    assert read_jsonl(io.BytesIO(lines.encode("utf-16")), encoding="utf-16").rows == ROWS[1:]


def test_a_stream_is_bounded_like_a_file() -> None:
    with pytest.raises(InputError, match=r"^<stream>: is over the input limit of 100 bytes"):
        read_rows(io.StringIO("name\n" + "Ada\n" * 100), limits=InputLimits(max_bytes=100))


def test_a_table_repr_shows_no_cell(tmp_path: Path) -> None:
    table = read_csv(write(tmp_path, csv_text(ROWS).encode()))
    assert "Åsa" not in repr(table)
    assert "<2 rows>" in repr(table)


# --------------------------------------------------- the fast reader is exact

_cells = st.text(alphabet=st.sampled_from('ab,;"\n\r x'), max_size=8)


def _outcome(read: object) -> object:
    try:
        return read() if callable(read) else read
    except InputError as exc:
        return ("error", str(exc))


@given(
    rows=st.lists(st.lists(_cells, min_size=1, max_size=5), min_size=1, max_size=8),
    max_row=st.integers(1, 60),
    max_cell=st.integers(1, 12),
    raw=st.booleans(),
)
def test_the_fast_reader_agrees_with_the_line_by_line_reader(
    rows: list[list[str]], max_row: int, max_cell: int, raw: bool
) -> None:
    # Every table (and random text), with small limits: same rows, or the same error.
    text = "".join(c for r in rows for c in r) if raw else csv_text(rows)
    limits = InputLimits(max_row=max_row, max_cell=max_cell)

    def exact() -> object:
        header, body, long_rows = _parse_exact(text, "f.csv", limits, ",")
        _check_repeated_headers("f.csv", header)
        return header, body, tuple(long_rows)

    def fast() -> object:
        table = _csv_from_text(text, "f.csv", limits, ",", False, "utf-8")
        return table.header, table.rows, table.long_rows

    assert _outcome(fast) == _outcome(exact)


def test_a_country_code_without_its_plus_is_read_when_no_region_is_known() -> None:
    from crmcore.io.parsing import parse_phones

    read = parse_phones([("46812345678", None), ("12025550123", None), ("2025550123", None)])
    assert read[0] == ("+46812345678", None)
    assert read[1] == ("+12025550123", None)
    # Not a valid number with a + either: still unreadable, never guessed.
    assert read[2] is None
