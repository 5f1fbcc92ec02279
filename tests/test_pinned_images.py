"""Every image the course runs is pinned in one place (grader/cluster/versions.py).

The YAML a learner reads must name the same image that `grade cluster preload` pulls and loads, or a
workshop room on a weak network would pull at grading time.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from grader.cluster import versions

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_DIRS = ["exercises", "lessons/manifests", "examples"]


def _images(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "image" and isinstance(v, str):
                yield v
            else:
                yield from _images(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _images(v)


def test_every_manifest_image_is_a_pinned_course_image():
    found: dict[str, list[str]] = {}
    for d in MANIFEST_DIRS:
        for f in sorted((ROOT / d).rglob("*.y*ml")):
            for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
                for image in _images(doc):
                    found.setdefault(image, []).append(str(f.relative_to(ROOT)))
    assert found, "no images found: the scan is broken"
    unpinned = {image: files[:3] for image, files in found.items() if image not in versions.COURSE_IMAGES}
    assert not unpinned, f"images not pinned in grader/cluster/versions.py COURSE_IMAGES: {unpinned}"


def test_pinned_images_carry_an_exact_tag_or_digest():
    for image in versions.COURSE_IMAGES + versions.HOST_IMAGES + (versions.NODE_IMAGE,):
        name = image.split("@")[0]
        assert "@sha256:" in image or (":" in name.rsplit("/", 1)[-1] and not name.endswith(":latest")), image
