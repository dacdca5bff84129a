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
  video_mcap/       the real MIT video clip (../shared/datasets/video): every second frame as a
                    JPEG CompressedImage at its own time, after one photo of each of two people
                    on their own topics (to enrol from), for the tracking tests
  people_mcap/      a scenario of people over time made from the faces-small photos: a person
                    leaves and returns, two people cross, two strangers appear (one is named
                    through enrolment by track), leave and return; with its labels
                    (people_mcap.labels.json) for `facerec eval sequence`
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
DEFAULT_VIDEO = REPO.parent / 'shared' / 'datasets' / 'video'

# The video bag: a 640x360 clip at 29.97 frames/s, every VIDEO_STEP-th frame kept (15 frames/s).
VIDEO_CAMERA = '/camera/image_raw/compressed'
VIDEO_STEP = 2
VIDEO_JPEG_QUALITY = 75
# Reference photos, one message each on their own topic, before the clip starts.
VIDEO_REFERENCES = [
    ('/meet/lin/compressed', 'lin-manuel-miranda.png', 'lin'),
    ('/meet/alex/compressed', 'alex-lacamoire.png', 'alex'),
]

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


def video(video_dir: Path) -> tuple[BagBuilder, list[dict]]:
    """The clip: reference photos at T0 and T0 + 100 ms (shrunk to at most 320 px), then every
    VIDEO_STEP-th decoded frame of the clip from T0 + 1 s at its presentation time. Decoding is
    PyAV's (FFmpeg's H.264 decoder is bit exact; RGB conversion by its swscale)."""
    import av

    bag = BagBuilder()
    described = []
    for k, (topic, photo, name) in enumerate(VIDEO_REFERENCES):
        bag.topic(topic, 'sensor_msgs/msg/CompressedImage')
        img = Image.open(video_dir / photo).convert('RGB')
        scale = min(1.0, 320 / max(img.size))
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        data = jpeg_q(img, VIDEO_JPEG_QUALITY)
        log_ns = T0 + k * 100_000_000
        bag.add(log_ns, topic, TYPESTORE.serialize_cdr(compressed_image(data, log_ns),
                                                     CompressedImageMsg.__msgtype__),
                jpeg_expect(data, log_ns))
        described.append({'topic': topic, 'source': photo, 'person': name, 'log_time_ns': log_ns})
    bag.topic(VIDEO_CAMERA, 'sensor_msgs/msg/CompressedImage')
    start = T0 + 1_000_000_000
    with av.open(str(video_dir / 'hamilton_clip.mp4')) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        for index, frame in enumerate(container.decode(stream)):
            if index % VIDEO_STEP:
                continue
            pts_ns = int(frame.pts * time_base * 1_000_000_000)
            header_ns = start + pts_ns
            data = jpeg_q(frame.to_image(), VIDEO_JPEG_QUALITY)
            bag.add(header_ns + CAPTURE_LAG, VIDEO_CAMERA,
                    TYPESTORE.serialize_cdr(compressed_image(data, header_ns),
                                            CompressedImageMsg.__msgtype__),
                    jpeg_expect(data, header_ns))
            described.append({'topic': VIDEO_CAMERA, 'clip_frame': index, 'header_stamp_ns': header_ns})
    return bag, described


# The people scenario: 320x240 at 10 frames/s on PEOPLE_CAMERA, from T0 + 1 s.
PEOPLE_CAMERA = '/camera/image_raw/compressed'
PEOPLE_PERIOD = 100_000_000
PEOPLE_JPEG_QUALITY = 75
PEOPLE_FRAMES = 130
# Face boxes (x, y, width, height in photo pixels) of the photos used, as RetinaFace finds them
# (`facerec detect`, rounded): the crops are centred on them.
PEOPLE_FACES = {
    'by_identity/id01/img1.jpg': (422, 194, 590, 838),
    'by_identity/id01/img2.jpg': (593, 163, 372, 550),
    'by_identity/id02/img13.jpg': (791, 163, 396, 618),
    'by_identity/id03/img3.jpg': (457, 304, 670, 953),
    'by_identity/id03/img12.jpg': (229, 63, 139, 199),
    'by_identity/id04/img8.jpg': (181, 102, 270, 387),
    'by_identity/id04/img9.jpg': (242, 264, 489, 655),
}
# Who is enrolled from a photo of their own (topic, photo, name), before the scenario.
PEOPLE_REFERENCES = [
    ('/meet/ada/compressed', 'by_identity/id01/img4.jpg', 'ada'),
    ('/meet/bob/compressed', 'by_identity/id02/img14.jpg', 'bob'),
]
# The frame after which the robot is told "the person you are looking at is carol".
PEOPLE_NAME_FRAME = 80


def face_crop(faces: Path, rel: str, side: int) -> Image.Image:
    """A square crop of `rel` around its face (1.6 times the face's height), `side` px."""
    img = load(faces, rel)
    x, y, w, h = PEOPLE_FACES[rel]
    size = min(round(1.6 * max(w, h)), img.width, img.height)
    cx, cy = x + w / 2, y + h / 2
    left = min(max(round(cx - size / 2), 0), img.width - size)
    top = min(max(round(cy - size / 2), 0), img.height - size)
    return img.crop((left, top, left + size, top + size)).resize((side, side), Image.Resampling.LANCZOS)


def people_script(i: int) -> list[tuple[str, str, int, int, int]]:
    """Who is where in frame `i`: (label, photo, x, y, side), drawn in this order (later on top).
    Frames 0-9 ada walks right; 10-24 nobody (she is gone 1.5 s); 25-54 ada is back (another
    photo) walking left, and from 35 bob walks right across her (in front of her, hiding her
    face for a few frames around 43); 55-64 nobody; 65-94 two strangers, carol (near, left) and
    dee (further, right); after frame 80 carol is named; 95-114 nobody; 115-129 both strangers
    are back (other photos, places swapped)."""
    out = []
    if i < 10:
        out.append(('ada', 'by_identity/id01/img1.jpg', 10 + 12 * i, 60, 110))
    elif 25 <= i < 55:
        out.append(('ada', 'by_identity/id01/img2.jpg', round(200 - 6.3 * (i - 25)), 50, 110))
        if i >= 35:
            out.append(('bob', 'by_identity/id02/img13.jpg', 10 + 10 * (i - 35), 75, 110))
    elif 65 <= i < 95:
        carol = 'carol' if i > PEOPLE_NAME_FRAME else 'stranger:carol'
        out.append(('stranger:dee', 'by_identity/id04/img8.jpg', 215, 90, 90))
        out.append((carol, 'by_identity/id03/img3.jpg', 30 + (i - 65), 50, 125))
    elif 115 <= i < 130:
        out.append(('stranger:dee', 'by_identity/id04/img9.jpg', 20, 100, 90))
        out.append(('carol', 'by_identity/id03/img12.jpg', 170 - (i - 115), 50, 125))
    return out


def people(faces: Path) -> tuple[BagBuilder, dict]:
    """The people scenario bag and its labels (one region per face and frame: the pasted crop,
    at that frame's stamp)."""
    bag = BagBuilder()
    for k, (topic, photo, _) in enumerate(PEOPLE_REFERENCES):
        bag.topic(topic, 'sensor_msgs/msg/CompressedImage')
        img = load(faces, photo)
        scale = min(1.0, 320 / max(img.size))
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        data = jpeg_q(img, PEOPLE_JPEG_QUALITY)
        log_ns = T0 + k * 100_000_000
        bag.add(log_ns, topic, TYPESTORE.serialize_cdr(compressed_image(data, log_ns),
                                                     CompressedImageMsg.__msgtype__),
                jpeg_expect(data, log_ns))
    bag.topic(PEOPLE_CAMERA, 'sensor_msgs/msg/CompressedImage')
    # The backdrop: the dark, empty scene left of the person in id05/img17 (as the scenario bag).
    backdrop = load(faces, 'by_identity/id05/img17.jpg').crop((0, 0, 280, 210))
    backdrop = backdrop.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    crops: dict[tuple[str, int], Image.Image] = {}
    regions = []
    for i in range(PEOPLE_FRAMES):
        header_ns = T0 + 1_000_000_000 + i * PEOPLE_PERIOD
        frame = backdrop.copy()
        drawn = people_script(i)
        for label, photo, x, y, side in drawn:
            key = (photo, side)
            if key not in crops:
                crops[key] = face_crop(faces, photo, side)
            frame.paste(crops[key], (x, y))
        # Labels: first each face's own box (the crop's middle: the face is 1/1.6 of the crop),
        # the face on top first, then each whole crop, so a face half hidden by another one
        # drawn over it is still its own.
        for label, _, x, y, side in reversed(drawn):
            m = round(side * (1 - 1 / 1.6) / 2)
            regions.append({'topic': PEOPLE_CAMERA, 'from_stamp_ns': header_ns, 'to_stamp_ns': header_ns,
                            'centre_in_frame': [x + m, y + m, x + side - m, y + side - m], 'identity': label})
        for label, _, x, y, side in reversed(drawn):
            regions.append({'topic': PEOPLE_CAMERA, 'from_stamp_ns': header_ns, 'to_stamp_ns': header_ns,
                            'centre_in_frame': [x, y, x + side, y + side], 'identity': label})
        data = jpeg_q(frame, PEOPLE_JPEG_QUALITY)
        bag.add(header_ns + CAPTURE_LAG, PEOPLE_CAMERA,
                TYPESTORE.serialize_cdr(compressed_image(data, header_ns), CompressedImageMsg.__msgtype__),
                jpeg_expect(data, header_ns))
    labels = {
        'note': ('Who is where in people_mcap (/camera/image_raw/compressed), written by '
                 'scripts/make_test_bags.py from the crops it pastes (one region per face and '
                 'frame: the face box, then the whole crop, at the frame stamp). ada and bob are enrolled from their own '
                 'topics; carol and dee are strangers (stranger:<who>: an anonymous id is right, '
                 'a gallery name wrong) until carol is named after frame '
                 f'{PEOPLE_NAME_FRAME}; from then on she is carol. Faces in no region are '
                 'strangers.'),
        'default': 'stranger',
        'gap_ns': 1_000_000_000,
        'regions': regions,
    }
    return bag, labels


def jpeg_q(img: Image.Image, quality: int) -> bytes:
    out = BytesIO()
    img.save(out, format='JPEG', quality=quality, optimize=False, progressive=False)
    return out.getvalue()


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
    parser.add_argument('--video', type=Path, default=DEFAULT_VIDEO,
                        help='the MIT video clip folder (default: %(default)s)')
    args = parser.parse_args()
    if not (args.faces / 'by_identity').is_dir():
        raise SystemExit(f'faces-small data set not found at {args.faces} (pass --faces)')
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = ['scenario_mcap', 'scenario_db3', 'malformed_mcap', 'malformed_db3', 'split_mcap',
             'zstd_messages_db3', 'unknown_storage', 'video_mcap', 'people_mcap']
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

    clip, clip_frames = video(args.video)
    clip.write(out / 'video_mcap', StoragePlugin.MCAP, compress=True)
    manifest['bags']['video_mcap'] = clip.manifest()
    manifest['video_frames'] = clip_frames
    shutil.copyfile(args.video / 'LICENSE', out / 'video_mcap' / 'LICENSE')

    scene, scene_labels = people(args.faces)
    scene.write(out / 'people_mcap', StoragePlugin.MCAP, compress=True)
    manifest['bags']['people_mcap'] = scene.manifest()
    (out / 'people_mcap.labels.json').write_text(json.dumps(scene_labels, indent=1) + '\n')
    # The photos' licence travels with the pictures cut from them.
    shutil.copyfile(args.faces / 'LICENSE', out / 'LICENSE')

    (out / 'manifest.json').write_text(json.dumps(manifest, indent=1, sort_keys=True) + '\n')
    for path in sorted(out.rglob('*')):
        if path.is_file():
            print(f'{path.stat().st_size:>9}  {path.relative_to(out)}')


if __name__ == '__main__':
    main()
