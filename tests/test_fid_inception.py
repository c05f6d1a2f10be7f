"""The standard FID network against a torch twin of pytorch-fid's, with shared weights.

The twin below is pytorch-fid's network (`pytorch_fid.inception.fid_inception_v3`: torchvision's
Inception3 stem, Mixed_6a and Mixed_7a, with pytorch-fid's FIDInceptionA/C/E_1/E_2 blocks),
written out in plain torch with the same module names, so its state dict has the keys of
`pt_inception-2015-12-05-6726825d.pth`. It is given random weights, saved as a .pth,
converted, and both networks must give the same 2048 features for the same images.
Skipped when torch is not installed (`pip install kerasi2i[fid]` installs it).
"""
import numpy as np
import pytest

from kerasi2i import evaluation as ev
from kerasi2i.evaluation import fid_inception as fi

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class FIDInceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """FIDInceptionE_1 (pool="avg", padding not counted) and FIDInceptionE_2 (pool="max")."""

    def __init__(self, cin, pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            bp = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            bp = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(bp)], 1)


class TorchFIDInception(nn.Module):
    """pytorch-fid's InceptionV3(output_blocks=[3]) with resize_input and normalize_input:
    [0, 1] images of any size -> (N, 2048)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, 32)
        self.Mixed_5c = FIDInceptionA(256, 64)
        self.Mixed_5d = FIDInceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, 128)
        self.Mixed_6c = FIDInceptionC(768, 160)
        self.Mixed_6d = FIDInceptionC(768, 160)
        self.Mixed_6e = FIDInceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, "avg")
        self.Mixed_7c = FIDInceptionE(2048, "max")
        self.fc = nn.Linear(2048, 1008)  # in the weights file, unused by the features

    def forward(self, x):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def random_twin(seed=0):
    """The twin with random weights that keep activations near unit scale through all
    the blocks (He-normal convolutions, batch-norm statistics and affines all drawn),
    so that any mismatch shows in the features."""
    torch.manual_seed(seed)
    net = TorchFIDInception()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The random twin, its state dict saved as pytorch-fid's file is, and the converted Keras weights."""
    folder = tmp_path_factory.mktemp("fid")
    net = random_twin()
    pth = folder / fi.PYTORCH_FID_WEIGHTS_FILE
    torch.save(net.state_dict(), pth)
    weights = fi.convert_pytorch_fid_weights(pth, folder / fi.FID_WEIGHTS_FILE)
    return net, pth, weights


@pytest.mark.slow
def test_features_agree_with_the_torch_twin(converted):
    net, _, weights = converted
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 64, 48, 3)).astype("float32")  # [0, 1], not square, resized to 299
    with torch.no_grad():
        expected = net(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    extractor = ev.fid_inception_extractor(weights=weights)
    assert ev.describe_extractor(extractor) == ev.STANDARD_FID_LABEL
    got = ev.compute_features(images * 2 - 1, extractor, progress=False)
    assert got.shape == expected.shape == (2, fi.FID_FEATURES)
    # The features are of unit scale and differ between images, so 1e-4 is a real test.
    assert expected.std() > 0.1 and np.abs(expected[0] - expected[1]).max() > 0.1
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    # Parameter count: the twin's, without its classifier; Keras counts the batch-norm
    # statistics among its (non-trainable) parameters, torch among its buffers.
    torch_count = sum(v.numel() for k, v in net.state_dict().items()
                      if not k.startswith("fc.") and not k.endswith("num_batches_tracked"))
    assert extractor.count_params() == torch_count


@pytest.mark.slow
def test_the_pooling_details_matter(converted):
    """The twin with torchvision's pooling (average pool in Mixed_7c, padding counted in
    the averages) gives other features: the test above can tell them apart."""
    net, _, weights = converted
    images = np.random.default_rng(1).uniform(0, 1, (1, 40, 40, 3)).astype("float32")
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    with torch.no_grad():
        standard = net(x).numpy()
        net.Mixed_7c.pool = "avg"
        try:
            torchvision_like = net(x).numpy()
        finally:
            net.Mixed_7c.pool = "max"
    assert np.abs(standard - torchvision_like).max() > 1e-2


@pytest.mark.slow
def test_converter_checks_the_state_dict(converted):
    net, pth, _ = converted
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    model = fi.fid_inception_v3((75, 75, 3))
    fi.load_pytorch_fid_state_dict(model, state)   # numpy arrays work without torch
    bad = dict(state)
    bad["Mixed_5b.extra.conv.weight"] = np.zeros((1, 1, 1, 1), "float32")
    with pytest.raises(ValueError, match="Mixed_5b.extra"):
        fi.load_pytorch_fid_state_dict(model, bad)
    missing = {k: v for k, v in state.items() if not k.startswith("Mixed_7c.branch_pool")}
    with pytest.raises(ValueError, match="no weights for 2 layers"):
        fi.load_pytorch_fid_state_dict(model, missing)
    wrong = dict(state)
    wrong["Mixed_6b.branch1x1.conv.weight"] = np.zeros((192, 768, 3, 3), "float32")
    with pytest.raises(ValueError, match="shapes"):
        fi.load_pytorch_fid_state_dict(model, wrong)
    # A .pth passed to the extractor is converted on the fly.
    assert ev.describe_extractor(ev.load_feature_extractor(pth)) == ev.STANDARD_FID_LABEL
