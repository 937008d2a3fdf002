"""What fernb predict reads (fernb.realtime.media): inputs checked and expanded, frames decoded with their times."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fernb.faces.video import write_video
from fernb.realtime.media import IMAGE_EXTENSIONS, Frame, MediaSource, open_sources, read_frames


def _image(path: Path, value: int = 128) -> Path:
    assert cv2.imwrite(str(path), np.full((10, 12, 3), value, np.uint8))
    return path


def test_a_folder_gives_its_images_sorted_by_name_and_nothing_else(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b.png", "a.jpg", "C.bmp"):
        _image(folder / name)
    (folder / "notes.txt").write_text("not an image")
    (folder / "sub").mkdir()
    _image(folder / "sub" / "deeper.png")                   # only the images directly inside
    sources = open_sources([folder, _image(tmp_path / "z.png")])
    assert [s.kind for s in sources] == ["image"] * 4
    assert [Path(s.path).name for s in sources] == ["C.bmp", "a.jpg", "b.png", "z.png"]
    assert all(s.frames == 1 and s.fps == 0.0 for s in sources)
    assert ".webp" in IMAGE_EXTENSIONS


def test_a_video_is_probed_for_its_frame_count_and_rate(tmp_path):
    path = write_video(tmp_path / "clip.avi", [np.full((16, 16, 3), 10 * i, np.uint8) for i in range(5)], fps=10.0)
    (source,) = open_sources([str(path)])
    assert (source.kind, source.frames, source.fps, source.name) == ("video", 5, 10.0, str(path))
    frames = list(read_frames(source))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.time for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])    # index / fps
    assert frames[0].image.shape == (16, 16, 3) and frames[0].image.dtype == np.uint8
    assert len(list(read_frames(source, max_frames=2))) == 2


def test_an_image_that_does_not_decode_is_a_frame_without_an_image(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    (frame,) = read_frames(MediaSource("image", broken))
    assert isinstance(frame, Frame) and frame.image is None and frame.time is None and frame.index == 0
    (frame,) = read_frames(MediaSource("image", _image(tmp_path / "ok.png", 200)))
    assert frame.image.shape == (10, 12, 3) and int(frame.image[0, 0, 0]) == 200


def test_a_webcam_source_is_named_by_its_index():
    assert MediaSource("webcam", 2, frames=None).name == "webcam:2"


def test_bad_inputs_are_refused_naming_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.png does not exist"):
        open_sources([tmp_path / "nowhere.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images in this folder"):
        open_sources([tmp_path / "empty"])
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="unsupported file type .csv"):
        open_sources([tmp_path / "data.csv"])
    with pytest.raises(ValueError, match="no input"):
        open_sources([])
