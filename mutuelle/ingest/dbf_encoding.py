"""The encoding of a Shapefile's attribute table (.dbf): the one the user gives, else the one
its .cpg names, else its language driver byte (LDID), else found from its bytes as for CSV."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from mutuelle.core.errors import ImportFailed
from mutuelle.ingest import encoding as enc

#: Language driver ids of the dBase header (byte 29) and their code pages. 0x57 ("ANSI") is the
#: Windows code page of Western Europe, cp1252 (GDAL reads it as latin-1, whose letters cp1252
#: shares; cp1252 also gives ’ œ € their meaning).
LDID_CODE_PAGES = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x04: "mac_roman", 0x08: "cp865", 0x09: "cp437", 0x0A: "cp850",
    0x0B: "cp437", 0x0D: "cp437", 0x0E: "cp850", 0x0F: "cp437", 0x10: "cp850", 0x11: "cp437",
    0x12: "cp850", 0x14: "cp850", 0x15: "cp437", 0x16: "cp850", 0x17: "cp865", 0x18: "cp437",
    0x19: "cp437", 0x1A: "cp850", 0x1B: "cp437", 0x1F: "cp852", 0x22: "cp852", 0x23: "cp852",
    0x24: "cp860", 0x25: "cp850", 0x26: "cp866", 0x37: "cp850", 0x40: "cp852", 0x57: "cp1252",
    0x58: "cp1252", 0x59: "cp1252", 0x64: "cp852", 0x65: "cp866", 0x66: "cp865", 0x67: "cp861",
    0x6A: "cp737", 0x6B: "cp857", 0x78: "cp950", 0x79: "cp949", 0x7A: "cp936", 0x7B: "cp932",
    0x7C: "cp874", 0x86: "cp737", 0x87: "cp852", 0x88: "cp857", 0xC8: "cp1250", 0xC9: "cp1251",
    0xCA: "cp1254", 0xCB: "cp1253", 0xCC: "cp1257",
}
_LDID_OFFSET = 29
_HEADER_LENGTH = slice(8, 10)


@dataclass(frozen=True)
class DbfEncoding:
    """How to read the text of a .dbf, and where that came from."""

    codec: str    # Python codec name
    label: str    # for the user
    source: str   # "asked", ".cpg", "LDID" or "detected"

    @property
    def is_utf8(self) -> bool:
        """True for UTF-8 (GDAL then hands the bytes over as they are)."""
        return self.codec in ("utf-8", "utf-8-sig")


def dbf_encoding(shp: Path, asked: str | None) -> DbfEncoding:
    """The encoding to read the .dbf beside ``shp`` with."""
    if asked:
        named = enc.lookup(asked)
        found = _usable(named.codec, named.label, "asked")
        if found is None:
            raise ImportFailed(f"the attribute table (.dbf) cannot be read as {asked.strip()}: "
                               "give UTF-8 or a one-byte encoding such as cp1252, latin-1 or "
                               "cp850")
        return found
    dbf = _sibling(shp, ".dbf")
    cpg = _sibling(shp, ".cpg")
    if cpg is not None:
        codec = code_page_name(cpg.read_text(encoding="ascii", errors="replace"))
        found = _usable(codec, codec, ".cpg") if codec else None
        if found:
            return found
    if dbf is None:
        return DbfEncoding("cp1252", "cp1252", "detected")
    with open(dbf, "rb") as f:
        head = f.read(32)
    code_page = LDID_CODE_PAGES.get(head[_LDID_OFFSET]) if len(head) > _LDID_OFFSET else None
    found = _usable(code_page, code_page, "LDID") if code_page else None
    if found:
        return found
    if _is_utf8(dbf, int.from_bytes(head[_HEADER_LENGTH], "little")):
        return DbfEncoding("utf-8", "utf-8", "detected")
    return DbfEncoding("cp1252", "cp1252", "detected")


def code_page_name(text: str) -> str | None:
    """The Python codec a .cpg names (``1252``, ``UTF-8``, ``ANSI 1251``, ``88591``...), if any."""
    name = text.strip().strip("\x00").strip()
    if name.upper().startswith("ANSI "):
        name = name[5:].strip()
    if name.isdigit():
        name = f"iso8859-{name[4:]}" if name.startswith("8859") else f"cp{name}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def single_byte(codec: str) -> bool:
    """True for an encoding of one byte per character (latin-1, cp1252, cp850...), which the
    SQL side can recode; most of its upper 128 bytes stand alone."""
    alone = 0
    for byte in range(0x80, 0x100):
        try:
            alone += len(bytes([byte]).decode(codec)) == 1
        except UnicodeDecodeError:
            continue
    return alone >= 100 and bytes(range(0x80)).decode(codec, errors="replace") == \
        "".join(map(chr, range(0x80)))


def _usable(codec: str, label: str, source: str) -> DbfEncoding | None:
    """The encoding if the SQL side can read with it (UTF-8 or one byte per character)."""
    found = DbfEncoding(codecs.lookup(codec).name, label, source)
    return found if found.is_utf8 or single_byte(found.codec) else None


def _sibling(shp: Path, ext: str) -> Path | None:
    wanted = (shp.stem + ext).casefold()
    return next((p for p in shp.parent.iterdir() if p.name.casefold() == wanted), None)


def _is_utf8(dbf: Path, header_length: int) -> bool:
    """True if the records (after the header) are valid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(dbf, "rb") as f:
        f.seek(header_length)
        try:
            while chunk := f.read(enc.CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True
