"""Datasets: loaders for the real on-disk layouts, downloads, and the bundled samples.

>>> from kerasi2i import data
>>> train = data.load_paired(data.sample_path("edges2photo", 64), "train", image_size=64)
"""
from kerasi2i.data.checks import IMAGE_EXTENSIONS, DatasetError, inspect_image, list_images
from kerasi2i.data.download import (
    CYCLEGAN_DATASETS,
    PIX2PIX_DATASETS,
    download_cyclegan,
    download_pix2pix,
)
from kerasi2i.data.loaders import (
    detect_layout,
    load_cycle_gan_tfds,
    load_domain,
    load_paired,
    load_unpaired,
    paired_files,
    unpaired_files,
)
from kerasi2i.data.paths import data_root, downloads_root, samples_root
from kerasi2i.data.preprocess import PREPROCESS_MODES
from kerasi2i.data.samples import SAMPLE_SIZES, SAMPLE_TASKS, build_samples, resolve_data, sample_path
