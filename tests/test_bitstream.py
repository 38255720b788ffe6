import pytest

from lvc.format import bitstream as bs
from lvc.errors import CorruptStreamError, UnsupportedStreamError
from lvc.format.varint import read_varint, write_varint


def _stream() -> bytes:
    h = bs.SequenceHeader(width=17, height=9, fps_num=30000, fps_den=1001, tb_num=1, tb_den=90000,
                          pixel_format="yuv420p", model_id="m", weight_hash=bytes(range(8)), gop=12, tile=2048)
    frames = [bs.Frame("I", pts, 3003, 4.25, 0xDEADBEEF, [b"abc", b"", b"\x00" * 300]) for pts in (0, -3003, 10**12)]
    return bs.file_header() + b"".join(bs.pack_sequence_header(h) + bs.pack_frame(f) for f in frames) + bs.pack_end(3)


def test_round_trip() -> None:
    units = list(bs.iter_units(_stream()))
    assert isinstance(units[0], bs.SequenceHeader) and units[0].fps_num == 30000 and units[0].tile == 2048
    frames = [u for u in units if isinstance(u, bs.Frame)]
    assert [f.pts for f in frames] == [0, -3003, 10**12]
    assert frames[0].quality == 4.25 and frames[0].recon_crc == 0xDEADBEEF
    assert frames[0].streams == [b"abc", b"", b"\x00" * 300]
    assert units[-1] == bs.End(3)


def test_varint_round_trip() -> None:
    for v in (0, 1, 127, 128, 300, 2**35, 2**63):
        out = bytearray()
        write_varint(out, v)
        assert read_varint(bytes(out), 0) == (v, len(out))


def test_every_truncation_is_an_error() -> None:
    data = _stream()
    for cut in range(len(data)):
        with pytest.raises(CorruptStreamError):
            list(bs.iter_units(data[:cut]))


def test_every_flipped_byte_is_an_error() -> None:
    data = _stream()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x55
        with pytest.raises((CorruptStreamError, UnsupportedStreamError)):
            list(bs.iter_units(bytes(bad)))


def test_older_versions_are_read() -> None:
    """Versions 2 and 3 add motion modes and 4 exact arithmetic in the weights it names: older streams are read as they are."""
    for older in range(1, bs.VERSION):
        data = bytearray(_stream())
        data[4] = older
        assert list(bs.iter_units(bytes(data))) == list(bs.iter_units(_stream()))


def test_future_version_and_foreign_files() -> None:
    data = bytearray(_stream())
    data[4] = bs.VERSION + 1
    with pytest.raises(UnsupportedStreamError, match="newer"):
        list(bs.iter_units(bytes(data)))
    for foreign in (b"", b"\x89PNG\r\n\x1a\n", b"hello world"):
        with pytest.raises(CorruptStreamError, match="not an lvc stream"):
            list(bs.iter_units(foreign))
