"""The classes and label colours of the bundled `labels2photo` / `photo2labels` sample
tasks (SLIC superpixels of real photos, each given the class whose prototype colour is
nearest; `kerasi2i.data.samples` builds them).

This module has no dependencies beyond numpy, so the metrics (segmentation scores with
``palette="sample"``) can use it without importing the data builder.
"""
import numpy as np

# Label maps are painted with PALETTE (well-separated colours, so a label map survives JPEG).
LABEL_CLASSES = (
    "sky",         # light or saturated blue
    "vegetation",  # green
    "skin",        # light orange-beige
    "red",
    "yellow",
    "white",       # bright, unsaturated
    "dark",        # near black
    "grey",        # mid grey, unsaturated
    "brown",       # dark orange, wood, earth
    "purple",      # violet, magenta, stained tissue
    "navy",        # dark blue
)
PALETTE = np.array([
    [70, 130, 255],   # sky
    [30, 170, 30],    # vegetation
    [255, 170, 110],  # skin
    [220, 20, 30],    # red
    [255, 240, 0],    # yellow
    [255, 255, 255],  # white
    [0, 0, 0],        # dark
    [128, 128, 128],  # grey
    [130, 70, 10],    # brown
    [170, 40, 220],   # purple
    [20, 20, 140],    # navy
], dtype=np.uint8)
PALETTE.setflags(write=False)
