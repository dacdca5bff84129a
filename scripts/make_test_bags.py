#!/usr/bin/env python3
"""Write the committed rosbag2 test bags under tests/fixtures/bags/ from MIT-licensed photos.

Run through scripts/make_test_bags.sh, which makes the pinned venv (.venv-bags) this needs:
rosbags 0.11.9 (the rosbag2 writer, pure Python), Pillow (resize, JPEG encoding), numpy.

Everything is fixed: timestamps, crops, JPEG quality, message order. With the same pinned
package versions the output is byte-identical from run to run (the script checks nothing itself;
`make_test_bags.sh --check` regenerates into a temp dir and compares hashes with the committed
files).

Bags written (see tests/fixtures/bags/README.md for the scenario):
  scenario_mcap/    MCAP storage, zstd-compressed chunks
  scenario_db3/     sqlite3 storage, same messages
  malformed_mcap/   small frames with broken messages in the middle
  malformed_db3/    the same, sqlite3
  split_mcap/       one bag in two MCAP files (rosbag2 split), metadata lists both
  zstd_messages_db3/  the split bag's frames in one sqlite3 file, each message zstd-compressed
  unknown_storage/  metadata.yaml with storage_identifier: foo
and manifest.json: for every bag, every message the writer wrote, in the order a reader must
yield them, with what a reader must find in it (sizes, encodings, sha256 of the pixel bytes), so
the Rust tests compare against what was written rather than against what was read before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FACES = REPO.parent / 'shared' / 'datasets' / 'faces-small'

# 2026-01-01T00:00:00Z; frames every 200 ms (a 5 Hz camera).
T0 = 1_767_225_600_000_000_000
PERIOD = 200_000_000
# The camera stamps a frame 30 ms before the recorder logs it.
CAPTURE_LAG = 30_000_000
FRAME_ID = 'camera_color_optical_frame'
WIDTH, HEIGHT = 320, 240
JPEG_QUALITY = 80

RAW = '/camera/image_raw'
COMPRESSED = '/camera/image_raw/compressed'
STATUS = '/robot/status'
TELEMETRY = '/robot/telemetry'

TELEMETRY_MSG = """float64 battery_voltage
string mode
"""
TELEMETRY_TYPE = 'acme_msgs/msg/Telemetry'

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
TYPESTORE.register(get_types_from_msg(TELEMETRY_MSG, TELEMETRY_TYPE))
ImageMsg = TYPESTORE.types['sensor_msgs/msg/Image']
CompressedImageMsg = TYPESTORE.types['sensor_msgs/msg/CompressedImage']
StringMsg = TYPESTORE.types['std_msgs/msg/String']
Header = TYPESTORE.types['std_msgs/msg/Header']
Time = TYPESTORE.types['builtin_interfaces/msg/Time']
Telemetry = TYPESTORE.types[TELEMETRY_TYPE]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cover(img: Image.Image, width: int, height: int, anchor: tuple[float, float]) -> Image.Image:
    """Crops `img` to the aspect ratio width:height around `anchor` (fractions), then resizes."""
    src_w, src_h = img.size
    target = width / height
    if src_w / src_h > target:
        crop_w, crop_h = round(src_h * target), src_h
    else:
        crop_w, crop_h = src_w, round(src_w / target)
    left = min(max(round(anchor[0] * src_w - crop_w / 2), 0), src_w - crop_w)
    top = min(max(round(anchor[1] * src_h - crop_h / 2), 0), src_h - crop_h)
    box = (left, top, left + crop_w, top + crop_h)
    return img.crop(box).resize((width, height), Image.Resampling.LANCZOS)


def load(faces: Path, rel: str) -> Image.Image:
    return Image.open(faces / rel).convert('RGB')


def scenario_frames(faces: Path, width: int, height: int) -> list[dict]:
    """The scenario: id02 alone twice, an empty scene, the couple, id05, then id02 beside id05."""
    half = width // 2
    composite = Image.new('RGB', (width, height))
    composite.paste(cover(load(faces, 'by_identity/id02/img15.jpg'), half, height, (0.5, 0.4)), (0, 0))
    composite.paste(
        cover(load(faces, 'by_identity/id05/img17.jpg'), width - half, height, (0.6, 0.4)), (half, 0)
    )
    # The dark backdrop left of the person in id05/img17: a real scene with nobody in it.
    empty = load(faces, 'by_identity/id05/img17.jpg')
    empty = empty.crop((0, 0, 280, 210)).resize((width, height), Image.Resampling.LANCZOS)
    return [
        {
            'image': cover(load(faces, 'by_identity/id02/img13.jpg'), width, height, (0.47, 0.35)),
            'source': 'by_identity/id02/img13.jpg',
            'people': ['id02'],
        },
        {
            'image': cover(load(faces, 'by_identity/id02/img14.jpg'), width, height, (0.5, 0.35)),
            'source': 'by_identity/id02/img14.jpg',
            'people': ['id02'],
        },
        {
            'image': empty,
            'source': 'by_identity/id05/img17.jpg (crop x 0-280, y 0-210: background only)',
            'people': [],
        },
        {
            'image': cover(load(faces, 'group/couple.jpg'), width, height, (0.5, 0.45)),
            'source': 'group/couple.jpg',
            'people': ['couple-left', 'couple-right'],
        },
        {
            'image': cover(load(faces, 'by_identity/id05/img16.jpg'), width, height, (0.5, 0.4)),
            'source': 'by_identity/id05/img16.jpg',
            'people': ['id05'],
        },
        {
            'image': composite,
            'source': 'left half by_identity/id02/img15.jpg, right half by_identity/id05/img17.jpg',
            'people': ['id02', 'id05'],
        },
    ]


def stamp(ns: int):
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def raw_image(img: Image.Image, encoding: str, header_ns: int, row_padding: int = 0):
    """A sensor_msgs/Image of `img` in rgb8 or bgr8, rows padded with `row_padding` zero bytes."""
    pixels = np.asarray(img, dtype=np.uint8)
    if encoding == 'bgr8':
        pixels = pixels[:, :, ::-1]
    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 3)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, row_padding), dtype=np.uint8)], axis=1)
    data = np.ascontiguousarray(rows).reshape(-1)
    msg = ImageMsg(
        header=Header(stamp=stamp(header_ns), frame_id=FRAME_ID),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * 3 + row_padding,
        data=data,
    )
    return msg, bytes(data), np.asarray(img, dtype=np.uint8).tobytes()


def jpeg(img: Image.Image) -> bytes:
    out = BytesIO()
    img.save(out, format='JPEG', quality=JPEG_QUALITY, optimize=False, progressive=False)
    return out.getvalue()


def compressed_image(data: bytes, header_ns: int, fmt: str = 'jpeg'):
    return CompressedImageMsg(
        header=Header(stamp=stamp(header_ns), frame_id=FRAME_ID),
        format=fmt,
        data=np.frombuffer(data, dtype=np.uint8),
    )


class BagBuilder:
    """Collects messages (and what the manifest says of them), then writes them in one go."""

    def __init__(self) -> None:
        self.topics: dict[str, str] = {}
        self.messages: list[tuple[int, str, bytes, dict]] = []

    def topic(self, name: str, msgtype: str) -> None:
        self.topics[name] = msgtype

    def add(self, log_ns: int, topic: str, cdr: bytes, expect: dict) -> None:
        entry = {'log_time_ns': log_ns, 'topic': topic, 'type': self.topics[topic], **expect}
        self.messages.append((log_ns, topic, cdr, entry))

    def ordered(self) -> list[tuple[int, str, bytes, dict]]:
        # The order a reader must yield: log time, then topic name, then order written.
        return sorted(self.messages, key=lambda m: (m[0], m[1]))

    def write(self, path: Path, storage: StoragePlugin, compress: bool, subset=None,
              zstd_messages: bool = False) -> None:
        writer = Writer(path, version=9, storage_plugin=storage)
        if compress:
            writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        if zstd_messages:
            writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
        with writer:
            conns = {
                name: writer.add_connection(name, msgtype, typestore=TYPESTORE)
                for name, msgtype in self.topics.items()
            }
            # Written in the order added (not sorted), so readers must order by time themselves.
            for index, (log_ns, topic, cdr, _) in enumerate(self.messages):
                if subset is None or index in subset:
                    writer.write(conns[topic], log_ns, cdr)

    def manifest(self, subset=None) -> list[dict]:
        indices = {id(m): i for i, m in enumerate(self.messages)}
        return [
            m[3] for m in self.ordered() if subset is None or indices[id(m)] in subset
        ]


def image_expect(msg, pixels_rgb: bytes, raw_data: bytes, header_ns: int) -> dict:
    return {
        'kind': 'raw',
        'header_stamp_ns': header_ns,
        'frame_id': FRAME_ID,
        'width': msg.width,
        'height': msg.height,
        'step': msg.step,
        'encoding': msg.encoding,
        'data_len': len(raw_data),
        'data_sha256': sha256(raw_data),
        'rgb_sha256': sha256(pixels_rgb),
        'frame': 'ok',
    }


def jpeg_expect(data: bytes, header_ns: int, frame: str = 'ok') -> dict:
    return {
        'kind': 'compressed',
        'header_stamp_ns': header_ns,
        'frame_id': FRAME_ID,
        'format': 'jpeg',
        'data_len': len(data),
        'data_sha256': sha256(data),
        'frame': frame,
    }


def scenario(faces: Path) -> tuple[BagBuilder, list[dict]]:
    bag = BagBuilder()
    bag.topic(RAW, 'sensor_msgs/msg/Image')
    bag.topic(COMPRESSED, 'sensor_msgs/msg/CompressedImage')
    bag.topic(STATUS, 'std_msgs/msg/String')
    bag.topic(TELEMETRY, TELEMETRY_TYPE)
    frames = scenario_frames(faces, WIDTH, HEIGHT)
    described = []
    for i, frame in enumerate(frames):
        log_ns = T0 + i * PERIOD
        header_ns = log_ns - CAPTURE_LAG
        encoding = 'rgb8' if i % 2 == 0 else 'bgr8'
        # Frame 3 has 8 bytes of padding at the end of each row (step > width * 3), as some
        # camera drivers send.
        padding = 8 if i == 3 else 0
        msg, raw_data, pixels_rgb = raw_image(frame['image'], encoding, header_ns, padding)
        jpg = jpeg(frame['image'])
        # The compressed frame is logged at the same instant as the raw one (image_transport
        # publishes both at once): the reader orders equal log times by topic name.
        bag.add(log_ns, COMPRESSED, TYPESTORE.serialize_cdr(compressed_image(jpg, header_ns),
                                                          CompressedImageMsg.__msgtype__),
                jpeg_expect(jpg, header_ns))
        bag.add(log_ns, RAW, TYPESTORE.serialize_cdr(msg, ImageMsg.__msgtype__),
                image_expect(msg, pixels_rgb, raw_data, header_ns))
        described.append({
            'index': i,
            'log_time_ns': log_ns,
            'header_stamp_ns': header_ns,
            'raw_encoding': encoding,
            'raw_step': msg.step,
            'source': frame['source'],
            'people': frame['people'],
        })
    for i, mode in enumerate(['idle', 'greeting', 'following']):
        log_ns = T0 + 100_000_000 + i * 400_000_000
        bag.add(log_ns, STATUS,
                TYPESTORE.serialize_cdr(StringMsg(data=f'mode={mode}'), StringMsg.__msgtype__),
                {'kind': 'skipped'})
    for i in range(2):
        log_ns = T0 + 50_000_000 + i * 500_000_000
        telemetry = Telemetry(battery_voltage=24.5 - 0.1 * i, mode='auto')
        bag.add(log_ns, TELEMETRY, TYPESTORE.serialize_cdr(telemetry, TELEMETRY_TYPE),
                {'kind': 'skipped'})
    return bag, described


def small_frames(faces: Path) -> list[Image.Image]:
    return [
        cover(load(faces, 'by_identity/id02/img13.jpg'), 80, 60, (0.47, 0.35)),
        cover(load(faces, 'by_identity/id02/img14.jpg'), 80, 60, (0.5, 0.35)),
        cover(load(faces, 'by_identity/id05/img16.jpg'), 80, 60, (0.5, 0.4)),
        cover(load(faces, 'by_identity/id05/img17.jpg'), 80, 60, (0.6, 0.4)),
        cover(load(faces, 'group/couple.jpg'), 80, 60, (0.5, 0.45)),
    ]


def malformed(faces: Path) -> BagBuilder:
    """Good frames around broken messages: a reader yields one error per broken message."""
    bag = BagBuilder()
    bag.topic(RAW, 'sensor_msgs/msg/Image')
    bag.topic(COMPRESSED, 'sensor_msgs/msg/CompressedImage')
    imgs = small_frames(faces)

    def t(i: int) -> int:
        return T0 + i * PERIOD

    def good(i: int, img: Image.Image, encoding: str) -> None:
        msg, raw_data, rgb = raw_image(img, encoding, t(i) - CAPTURE_LAG)
        bag.add(t(i), RAW, TYPESTORE.serialize_cdr(msg, ImageMsg.__msgtype__),
                image_expect(msg, rgb, raw_data, t(i) - CAPTURE_LAG))

    good(0, imgs[0], 'rgb8')
    good(1, imgs[1], 'bgr8')
    # 2: a valid message cut short in the middle of its pixel data.
    msg, _, _ = raw_image(imgs[2], 'rgb8', t(2) - CAPTURE_LAG)
    cdr = TYPESTORE.serialize_cdr(msg, ImageMsg.__msgtype__)
    bag.add(t(2), RAW, bytes(cdr[: len(cdr) // 2]), {'kind': 'malformed'})
    # 3: bytes that are no CDR at all (unknown encapsulation kind 0x0707).
    bag.add(t(3), RAW, b'\x07\x07\x00\x00this is not a sensor_msgs/Image', {'kind': 'malformed'})
    # 4: CDR that decodes, but its data holds half of height * step bytes: the message is read,
    # turning it into a frame fails.
    msg, raw_data, rgb = raw_image(imgs[3], 'rgb8', t(4) - CAPTURE_LAG)
    short = raw_data[: len(raw_data) // 2]
    msg.data = np.frombuffer(short, dtype=np.uint8)
    expect = image_expect(msg, rgb, short, t(4) - CAPTURE_LAG)
    expect['frame'] = 'error'
    del expect['rgb_sha256']
    bag.add(t(4), RAW, TYPESTORE.serialize_cdr(msg, ImageMsg.__msgtype__), expect)
    # 5: a CompressedImage whose bytes are no JPEG: read fine, decoding the frame fails.
    junk = b'\xff\xd8\xff\xe0 truncated jpeg'
    bag.add(t(5), COMPRESSED,
            TYPESTORE.serialize_cdr(compressed_image(junk, t(5) - CAPTURE_LAG),
                                    CompressedImageMsg.__msgtype__),
            jpeg_expect(junk, t(5) - CAPTURE_LAG, frame='error'))
    # 6: an empty message (zero bytes).
    bag.add(t(6), RAW, b'', {'kind': 'malformed'})
    good(7, imgs[4], 'rgb8')
    jpg = jpeg(imgs[4])
    bag.add(t(7), COMPRESSED,
            TYPESTORE.serialize_cdr(compressed_image(jpg, t(7) - CAPTURE_LAG),
                                    CompressedImageMsg.__msgtype__),
            jpeg_expect(jpg, t(7) - CAPTURE_LAG))
    return bag


def split(faces: Path) -> tuple[BagBuilder, list[set[int]]]:
    """Five small frames; file 0 holds frames 0, 1, 3 and file 1 holds 2 and 4, so the two
    files overlap in time and a reader must merge them."""
    bag = BagBuilder()
    bag.topic(RAW, 'sensor_msgs/msg/Image')
    for i, img in enumerate(small_frames(faces)):
        log_ns = T0 + i * PERIOD
        msg, raw_data, rgb = raw_image(img, 'rgb8', log_ns - CAPTURE_LAG)
        bag.add(log_ns, RAW, TYPESTORE.serialize_cdr(msg, ImageMsg.__msgtype__),
                image_expect(msg, rgb, raw_data, log_ns - CAPTURE_LAG))
    return bag, [{0, 1, 3}, {2, 4}]


def write_split(bag: BagBuilder, parts: list[set[int]], out: Path) -> None:
    from ruamel.yaml import YAML

    yaml = YAML(typ='safe')
    yaml.default_flow_style = False
    name = out.name
    with tempfile.TemporaryDirectory() as tmp:
        metas = []
        for k, part in enumerate(parts):
            part_dir = Path(tmp) / f'{name}_{k}'
            bag.write(part_dir, StoragePlugin.MCAP, compress=True, subset=part)
            metas.append(yaml.load((part_dir / 'metadata.yaml').read_text())
                         ['rosbag2_bagfile_information'])
            out.mkdir(parents=True, exist_ok=True)
            shutil.move(part_dir / f'{name}_{k}.mcap', out / f'{name}_{k}.mcap')
    info = metas[0]
    info['relative_file_paths'] = [f'{name}_{k}.mcap' for k in range(len(parts))]
    info['files'] = [m['files'][0] for m in metas]
    start = min(m['starting_time']['nanoseconds_since_epoch'] for m in metas)
    end = max(m['starting_time']['nanoseconds_since_epoch'] + m['duration']['nanoseconds']
              for m in metas)
    info['starting_time'] = {'nanoseconds_since_epoch': start}
    info['duration'] = {'nanoseconds': end - start}
    info['message_count'] = sum(m['message_count'] for m in metas)
    for k, topic in enumerate(info['topics_with_message_count']):
        topic['message_count'] = sum(m['topics_with_message_count'][k]['message_count']
                                     for m in metas)
    with (out / 'metadata.yaml').open('w') as f:
        yaml.dump({'rosbag2_bagfile_information': info}, f)


def write_unknown_storage(out: Path) -> None:
    out.mkdir(parents=True)
    (out / 'unknown_storage_0.foo').write_bytes(b'FOO storage: no reader knows this format\n')
    (out / 'metadata.yaml').write_text(
        'rosbag2_bagfile_information:\n'
        '  version: 9\n'
        '  storage_identifier: foo\n'
        '  relative_file_paths:\n'
        '  - unknown_storage_0.foo\n'
        '  duration:\n'
        '    nanoseconds: 0\n'
        '  starting_time:\n'
        f'    nanoseconds_since_epoch: {T0}\n'
        '  message_count: 1\n'
        '  topics_with_message_count:\n'
        '  - topic_metadata:\n'
        f'      name: {RAW}\n'
        '      type: sensor_msgs/msg/Image\n'
        '      serialization_format: cdr\n'
        "      offered_qos_profiles: ''\n"
        '    message_count: 1\n'
        "  compression_format: ''\n"
        "  compression_mode: ''\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=REPO / 'tests' / 'fixtures' / 'bags')
    parser.add_argument('--faces', type=Path, default=DEFAULT_FACES,
                        help='the MIT faces-small data set (default: %(default)s)')
    args = parser.parse_args()
    if not (args.faces / 'by_identity').is_dir():
        raise SystemExit(f'faces-small data set not found at {args.faces} (pass --faces)')
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = ['scenario_mcap', 'scenario_db3', 'malformed_mcap', 'malformed_db3', 'split_mcap',
             'zstd_messages_db3', 'unknown_storage']
    for name in names:
        if (out / name).exists():
            shutil.rmtree(out / name)

    manifest: dict = {'bags': {}}
    bag, described = scenario(args.faces)
    bag.write(out / 'scenario_mcap', StoragePlugin.MCAP, compress=True)
    bag.write(out / 'scenario_db3', StoragePlugin.SQLITE3, compress=False)
    manifest['scenario_frames'] = described
    manifest['bags']['scenario_mcap'] = bag.manifest()
    manifest['bags']['scenario_db3'] = bag.manifest()

    bad = malformed(args.faces)
    bad.write(out / 'malformed_mcap', StoragePlugin.MCAP, compress=True)
    bad.write(out / 'malformed_db3', StoragePlugin.SQLITE3, compress=False)
    manifest['bags']['malformed_mcap'] = bad.manifest()
    manifest['bags']['malformed_db3'] = bad.manifest()

    parts_bag, parts = split(args.faces)
    write_split(parts_bag, parts, out / 'split_mcap')
    manifest['bags']['split_mcap'] = parts_bag.manifest()

    # rosbag2 `--compression-mode message --compression-format zstd`: every message compressed.
    parts_bag.write(out / 'zstd_messages_db3', StoragePlugin.SQLITE3, compress=False,
                    zstd_messages=True)
    manifest['bags']['zstd_messages_db3'] = parts_bag.manifest()

    write_unknown_storage(out / 'unknown_storage')
    # The photos' licence travels with the pictures cut from them.
    shutil.copyfile(args.faces / 'LICENSE', out / 'LICENSE')

    (out / 'manifest.json').write_text(json.dumps(manifest, indent=1, sort_keys=True) + '\n')
    for path in sorted(out.rglob('*')):
        if path.is_file():
            print(f'{path.stat().st_size:>9}  {path.relative_to(out)}')


if __name__ == '__main__':
    main()
