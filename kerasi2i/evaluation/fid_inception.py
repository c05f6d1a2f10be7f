"""The standard FID network: the 2015 Inception graph of TF-GAN, pytorch-fid and clean-fid,
in Keras, and a converter for its weights.

Published FIDs (and KIDs) are computed on the pool features of one particular network:
the Inception graph of `inception-2015-12-05.tgz`, which TensorFlow's original FID code
and TF-GAN run, and which pytorch-fid (mseitzer/pytorch-fid, `FID_WEIGHTS_URL`) and
clean-fid re-implement. It is not `keras.applications.InceptionV3`: it has other weights
and differs in its blocks (pytorch-fid's `FIDInceptionA`, `FIDInceptionC`,
`FIDInceptionE_1`, `FIDInceptionE_2`):

- the average pooling inside the A, C and first E blocks leaves the zero padding out of
  its average (TensorFlow's "SAME" pooling; torchvision counts it);
- the last E block (Mixed_7c) pools its fourth branch with a 3x3 *max* pool, not an
  average pool;
- every convolution is followed by batch norm with epsilon 1e-3 and ReLU.

`fid_inception_v3` builds that network as a functional model from 299x299 RGB images in
[-1, 1] to the 2048 features of its global average pool (pytorch-fid's block 3,
`dims=2048`). pytorch-fid resizes its [0, 1] inputs bilinearly to 299x299
(`F.interpolate(..., align_corners=False)`) and scales them to [-1, 1];
`kerasi2i.evaluation.prepare_images` does the same (`tf.image.resize(..., "bilinear")`
uses the same half-pixel sampling), so `kerasi2i.evaluation.compute_features` with this
model gives pytorch-fid's features.

The weights: pytorch-fid publishes the graph's weights as a torch state dict
(`pt_inception-2015-12-05-6726825d.pth`, 91 MB). `convert_pytorch_fid_weights()` reads it
(downloading it once when online; torch is needed for this step only: `pip install
kerasi2i[fid]`) and writes a Keras `.weights.h5` into the Keras cache, where
`kerasi2i.evaluation.fid_inception_extractor()` finds it from then on, offline and
without torch:

    python -c "from kerasi2i.evaluation.fid_inception import convert_pytorch_fid_weights as c; c()"

`tests/test_fid_inception.py` builds pytorch-fid's network in torch with random weights,
converts them and checks that both give the same 2048 features.
"""
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
PYTORCH_FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_FILE = "fid_inception_v3_2015-12-05.weights.h5"  # what the converter writes
FID_INPUT_SIZE = 299
FID_FEATURES = 2048
BN_EPSILON = 1e-3  # torchvision's BasicConv2d: BatchNorm2d(eps=0.001)

# The state-dict entries the feature network does not use: the 1008-way classifier and
# torchvision's auxiliary classifier (absent from pytorch-fid's file), and batch norm's
# step counters.
_UNUSED_PREFIXES = ("fc.", "AuxLogits.")


def _keras_cache_models_dir():
    root = Path(os.environ["KERAS_HOME"]) if os.environ.get("KERAS_HOME") else Path.home() / ".keras"
    return root / "models"


def default_weights_path():
    """Where `convert_pytorch_fid_weights` writes the Keras weights by default:
    `~/.keras/models/fid_inception_v3_2015-12-05.weights.h5` (or under `$KERAS_HOME`)."""
    return _keras_cache_models_dir() / FID_WEIGHTS_FILE


# --------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------
def _conv_bn(x, filters, kernel_size, name, strides=1, padding="valid"):
    """torchvision's BasicConv2d: convolution without bias, batch norm (eps 1e-3), ReLU.

    `name` is the module's path in the torch state dict with "." as "_"
    (`Mixed_5b.branch1x1` -> `..._Mixed_5b_branch1x1`), which is how the converter finds
    the layer. Every padded convolution of the network has stride 1 and a symmetric
    padding of (k - 1) / 2, which is Keras' "same"."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _avg_pool_3x3(x, name):
    # 3x3, stride 1, padding 1, the padding left out of the average
    # (count_include_pad=False): TensorFlow's "same" average pooling.
    return layers.AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _fid_inception_a(x, pool_features, name):
    """FIDInceptionA (Mixed_5b-d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 -> 224 + pool_features."""
    b1 = _conv_bn(x, 64, 1, f"{name}_branch1x1")
    b5 = _conv_bn(x, 48, 1, f"{name}_branch5x5_1")
    b5 = _conv_bn(b5, 64, 5, f"{name}_branch5x5_2", padding="same")
    b3 = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1")
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_2", padding="same")
    b3 = _conv_bn(b3, 96, 3, f"{name}_branch3x3dbl_3", padding="same")
    bp = _avg_pool_3x3(x, f"{name}_pool")
    bp = _conv_bn(bp, pool_features, 1, f"{name}_branch_pool")
    return layers.Concatenate(name=f"{name}_concat")([b1, b5, b3, bp])


def _inception_b(x, name):
    """InceptionB (Mixed_6a), the grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""
    b3 = _conv_bn(x, 384, 3, f"{name}_branch3x3", strides=2)
    bd = _conv_bn(x, 64, 1, f"{name}_branch3x3dbl_1")
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_2", padding="same")
    bd = _conv_bn(bd, 96, 3, f"{name}_branch3x3dbl_3", strides=2)
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, bd, bp])


def _fid_inception_c(x, channels_7x7, name):
    """FIDInceptionC (Mixed_6b-e): factorised 7x7 branches, 768 channels out."""
    c7 = channels_7x7
    b1 = _conv_bn(x, 192, 1, f"{name}_branch1x1")
    b7 = _conv_bn(x, c7, 1, f"{name}_branch7x7_1")
    b7 = _conv_bn(b7, c7, (1, 7), f"{name}_branch7x7_2", padding="same")
    b7 = _conv_bn(b7, 192, (7, 1), f"{name}_branch7x7_3", padding="same")
    bd = _conv_bn(x, c7, 1, f"{name}_branch7x7dbl_1")
    bd = _conv_bn(bd, c7, (7, 1), f"{name}_branch7x7dbl_2", padding="same")
    bd = _conv_bn(bd, c7, (1, 7), f"{name}_branch7x7dbl_3", padding="same")
    bd = _conv_bn(bd, c7, (7, 1), f"{name}_branch7x7dbl_4", padding="same")
    bd = _conv_bn(bd, 192, (1, 7), f"{name}_branch7x7dbl_5", padding="same")
    bp = _avg_pool_3x3(x, f"{name}_pool")
    bp = _conv_bn(bp, 192, 1, f"{name}_branch_pool")
    return layers.Concatenate(name=f"{name}_concat")([b1, b7, bd, bp])


def _inception_d(x, name):
    """InceptionD (Mixed_7a), the grid reduction 17 -> 8."""
    b3 = _conv_bn(x, 192, 1, f"{name}_branch3x3_1")
    b3 = _conv_bn(b3, 320, 3, f"{name}_branch3x3_2", strides=2)
    b7 = _conv_bn(x, 192, 1, f"{name}_branch7x7x3_1")
    b7 = _conv_bn(b7, 192, (1, 7), f"{name}_branch7x7x3_2", padding="same")
    b7 = _conv_bn(b7, 192, (7, 1), f"{name}_branch7x7x3_3", padding="same")
    b7 = _conv_bn(b7, 192, 3, f"{name}_branch7x7x3_4", strides=2)
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=f"{name}_concat")([b3, b7, bp])


def _fid_inception_e(x, name, pool):
    """FIDInceptionE_1 (Mixed_7b, `pool="avg"`, padding left out of the average) and
    FIDInceptionE_2 (Mixed_7c, `pool="max"`): 320 + 768 + 768 + 192 = 2048 channels."""
    b1 = _conv_bn(x, 320, 1, f"{name}_branch1x1")
    b3 = _conv_bn(x, 384, 1, f"{name}_branch3x3_1")
    b3 = layers.Concatenate(name=f"{name}_branch3x3_concat")([
        _conv_bn(b3, 384, (1, 3), f"{name}_branch3x3_2a", padding="same"),
        _conv_bn(b3, 384, (3, 1), f"{name}_branch3x3_2b", padding="same"),
    ])
    bd = _conv_bn(x, 448, 1, f"{name}_branch3x3dbl_1")
    bd = _conv_bn(bd, 384, 3, f"{name}_branch3x3dbl_2", padding="same")
    bd = layers.Concatenate(name=f"{name}_branch3x3dbl_concat")([
        _conv_bn(bd, 384, (1, 3), f"{name}_branch3x3dbl_3a", padding="same"),
        _conv_bn(bd, 384, (3, 1), f"{name}_branch3x3dbl_3b", padding="same"),
    ])
    if pool == "max":
        bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    else:
        bp = _avg_pool_3x3(x, f"{name}_pool")
    bp = _conv_bn(bp, 192, 1, f"{name}_branch_pool")
    return layers.Concatenate(name=f"{name}_concat")([b1, b3, bd, bp])


def fid_inception_v3(input_shape=(FID_INPUT_SIZE, FID_INPUT_SIZE, 3), weights=None, name="fid_inception_v3"):
    """The FID Inception network (pytorch-fid's `fid_inception_v3` up to the final average
    pool): images in [-1, 1] -> 2048 pool features.

    Args:
        input_shape: `(299, 299, 3)` for FID as published (the images are resized to it
            before, by `kerasi2i.evaluation.prepare_images`). Height and width may be
            None; at least 75.
        weights: None (random: the network's structure only; its FIDs mean nothing), or
            the path of a `.weights.h5` written by `convert_pytorch_fid_weights`.
        name: the model's name, which prefixes every layer name.

    Returns:
        A `keras.Model` from `(bs, 299, 299, 3)` to `(bs, 2048)`.
    """
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    p = name
    x = _conv_bn(inputs, 32, 3, f"{p}_Conv2d_1a_3x3", strides=2)             # (bs, 149, 149, 32)
    x = _conv_bn(x, 32, 3, f"{p}_Conv2d_2a_3x3")                              # (bs, 147, 147, 32)
    x = _conv_bn(x, 64, 3, f"{p}_Conv2d_2b_3x3", padding="same")              # (bs, 147, 147, 64)
    x = layers.MaxPooling2D(3, strides=2, name=f"{p}_maxpool1")(x)            # (bs, 73, 73, 64)
    x = _conv_bn(x, 80, 1, f"{p}_Conv2d_3b_1x1")                              # (bs, 73, 73, 80)
    x = _conv_bn(x, 192, 3, f"{p}_Conv2d_4a_3x3")                             # (bs, 71, 71, 192)
    x = layers.MaxPooling2D(3, strides=2, name=f"{p}_maxpool2")(x)            # (bs, 35, 35, 192)
    x = _fid_inception_a(x, 32, f"{p}_Mixed_5b")                              # (bs, 35, 35, 256)
    x = _fid_inception_a(x, 64, f"{p}_Mixed_5c")                              # (bs, 35, 35, 288)
    x = _fid_inception_a(x, 64, f"{p}_Mixed_5d")                              # (bs, 35, 35, 288)
    x = _inception_b(x, f"{p}_Mixed_6a")                                      # (bs, 17, 17, 768)
    x = _fid_inception_c(x, 128, f"{p}_Mixed_6b")                             # (bs, 17, 17, 768)
    x = _fid_inception_c(x, 160, f"{p}_Mixed_6c")
    x = _fid_inception_c(x, 160, f"{p}_Mixed_6d")
    x = _fid_inception_c(x, 192, f"{p}_Mixed_6e")                             # (bs, 17, 17, 768)
    x = _inception_d(x, f"{p}_Mixed_7a")                                      # (bs, 8, 8, 1280)
    x = _fid_inception_e(x, f"{p}_Mixed_7b", pool="avg")                      # (bs, 8, 8, 2048)
    x = _fid_inception_e(x, f"{p}_Mixed_7c", pool="max")                      # (bs, 8, 8, 2048)
    outputs = layers.GlobalAveragePooling2D(name=f"{p}_avgpool")(x)           # (bs, 2048)
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"FID Inception weights file '{path}' does not exist.")
        model.load_weights(str(path))
    return model


# --------------------------------------------------------------------------------------
# Weights: pytorch-fid's state dict -> Keras
# --------------------------------------------------------------------------------------
def _as_numpy(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_pytorch_fid_state_dict(model, state_dict):
    """Copy pytorch-fid's state dict (names -> torch tensors or numpy arrays) into a model
    built by `fid_inception_v3`; needs no torch when given numpy arrays.

    Convolution kernels go from torch's (out, in, kh, kw) to Keras' (kh, kw, in, out);
    batch norm's weight, bias, running_mean and running_var become gamma, beta,
    moving_mean and moving_variance. The classifier (`fc.*`), torchvision's auxiliary
    classifier and the `num_batches_tracked` counters are not used. Raises ValueError
    when an entry has no layer, a layer gets no entry or a shape differs."""
    groups = {}
    for key, value in state_dict.items():
        if key.startswith(_UNUSED_PREFIXES) or key.endswith("num_batches_tracked"):
            continue
        module, _, param = key.rpartition(".")
        groups.setdefault(module, {})[param] = _as_numpy(value)
    loaded, unknown = set(), []
    for module, params in groups.items():
        layer_name = f"{model.name}_{module.replace('.', '_')}"
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            unknown.append(module)
            continue
        if isinstance(layer, layers.Conv2D):
            if set(params) != {"weight"}:
                raise ValueError(f"Convolution '{module}' expects only a weight; the state dict has {sorted(params)}.")
            values = [np.transpose(params["weight"], (2, 3, 1, 0))]
        elif isinstance(layer, layers.BatchNormalization):
            try:
                values = [params[k] for k in ("weight", "bias", "running_mean", "running_var")]
            except KeyError as err:
                raise ValueError(f"Batch norm '{module}' lacks {err} in the state dict.") from None
        else:
            unknown.append(module)
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise ValueError(f"'{module}': the state dict's shapes {[v.shape for v in values]} do not match the "
                             f"Keras layer's {expected}.")
        layer.set_weights([v.astype(np.float32) for v in values])
        loaded.add(layer.name)
    if unknown:
        raise ValueError(f"The state dict has entries that pytorch-fid's network does not: {sorted(unknown)[:10]}"
                         f"{' ...' if len(unknown) > 10 else ''}. Is it pt_inception-2015-12-05?")
    missing = [layer.name for layer in model.layers
               if isinstance(layer, (layers.Conv2D, layers.BatchNormalization)) and layer.name not in loaded]
    if missing:
        raise ValueError(f"The state dict has no weights for {len(missing)} layers, e.g. {missing[:5]}.")
    return model


def convert_pytorch_fid_weights(source=None, output=None):
    """Convert pytorch-fid's Inception weights to a Keras `.weights.h5`, once.

    Args:
        source: the path of `pt_inception-2015-12-05-6726825d.pth`, or a state dict
            already in memory; None downloads the file from `FID_WEIGHTS_URL` (through
            torch's hub cache, so only once). Reading a `.pth` needs torch (`pip install
            kerasi2i[fid]`); later runs of `fid_inception_extractor` do not.
        output: where to write the Keras weights; None: `default_weights_path()` in the
            Keras cache, where `kerasi2i.evaluation.fid_inception_extractor()` and
            `kerasi2i evaluate` look.

    Returns:
        The path written.
    """
    if source is None or isinstance(source, (str, os.PathLike)):
        try:
            import torch
        except ImportError as err:
            raise ImportError("Reading pytorch-fid's .pth weights needs torch, at conversion time only: "
                              "pip install 'kerasi2i[fid]' (or pip install torch).") from err
        if source is None:
            state_dict = torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=True, map_location="cpu")
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"'{path}' does not exist. Download {FID_WEIGHTS_URL} or pass source=None "
                                        "to download it.")
            state_dict = torch.load(str(path), map_location="cpu", weights_only=True)
    else:
        state_dict = source
    model = load_pytorch_fid_state_dict(fid_inception_v3(weights=None), state_dict)
    output = Path(output).expanduser() if output is not None else default_weights_path()
    if not str(output).endswith(".weights.h5"):
        raise ValueError(f"Keras weights files end in '.weights.h5'; received output='{output}'.")
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(output))
    return output
