"""The 19 Cityscapes training classes and the colours its label images use.

The pix2pix paper's `cityscapes` dataset pairs photos with colour label images painted
with the Cityscapes colours (Cordts et al. 2016, `cityscapesScripts/helpers/labels.py`).
Its FCN-scores average over the 19 classes used for training and evaluation (the
`trainId`s 0-18, in that order here); every other label ("void": unlabeled, ego vehicle,
ground, parking, rail track, ...) has trainId 255 and is left out of the scores.
`VOID_COLORS` are those labels' colours; two void labels share a training class's colour
(polegroup is painted as pole, the licence plate as car) and read as that class.

No dependencies beyond numpy.
"""
import numpy as np

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
    "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)

CITYSCAPES_PALETTE = np.array([
    [128, 64, 128],   # road
    [244, 35, 232],   # sidewalk
    [70, 70, 70],     # building
    [102, 102, 156],  # wall
    [190, 153, 153],  # fence
    [153, 153, 153],  # pole
    [250, 170, 30],   # traffic light
    [220, 220, 0],    # traffic sign
    [107, 142, 35],   # vegetation
    [152, 251, 152],  # terrain
    [70, 130, 180],   # sky
    [220, 20, 60],    # person
    [255, 0, 0],      # rider
    [0, 0, 142],      # car
    [0, 0, 70],       # truck
    [0, 60, 100],     # bus
    [0, 80, 100],     # train
    [0, 0, 230],      # motorcycle
    [119, 11, 32],    # bicycle
], dtype=np.uint8)
CITYSCAPES_PALETTE.setflags(write=False)

# Colours of the labels with trainId 255 (left out of the scores).
VOID_COLORS = np.array([
    [0, 0, 0],        # unlabeled, ego vehicle, rectification border, out of roi, static
    [111, 74, 0],     # dynamic
    [81, 0, 81],      # ground
    [250, 170, 160],  # parking
    [230, 150, 140],  # rail track
    [180, 165, 180],  # guard rail
    [150, 100, 100],  # bridge
    [150, 120, 90],   # tunnel
    [0, 0, 90],       # caravan
    [0, 0, 110],      # trailer
], dtype=np.uint8)
VOID_COLORS.setflags(write=False)
