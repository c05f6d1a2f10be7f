"""Downloading the real datasets: Berkeley pix2pix archives, CycleGAN archives, TFDS `cycle_gan`.

Archives are downloaded once into `downloads_root()` (``data/downloads/`` in a checkout),
written to a ``.part`` file and renamed only when complete and verified, then extracted.
Offline, a download fails at once with a message saying what to fetch and where to put it.

Extraction checks every member first: an absolute path, a `..` component, a link that
points outside the folder, a device file or a symbolic link in a zip makes the archive
unsafe (`UnsafeArchiveError`); it is then removed from the cache together with its hash
record and nothing extracted is kept. Tar archives are also extracted with
`filter="data"` where Python has it (3.10.12+, 3.11.4+); on older versions the member
check above is the safeguard.
"""
import hashlib
import posixpath
import shutil
import socket
import stat
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path

from kerasi2i.data.checks import DatasetError
from kerasi2i.data.paths import downloads_root

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"

# direction: which way the papers train it (input -> output).
PIX2PIX_DATASETS = {
    "facades": {"direction": "BtoA", "task": "labels -> photo"},
    "cityscapes": {"direction": "BtoA", "task": "labels -> photo"},
    "maps": {"direction": "AtoB", "task": "aerial photo -> map (BtoA: map -> aerial)"},
    "edges2shoes": {"direction": "AtoB", "task": "edges -> photo"},
    "edges2handbags": {"direction": "AtoB", "task": "edges -> photo"},
    "night2day": {"direction": "AtoB", "task": "night -> day"},
}
# No SHA-256 is published for the pix2pix archives; the first download records its hash
# beside the archive and later uses are checked against it. Pass file_hash= to pin one.

# SHA-256 of the CycleGAN archives, as recorded by tensorflow-datasets' cycle_gan checksums.
CYCLEGAN_DATASETS = {
    "apple2orange": "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8",
    "cezanne2photo": "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff",
    "cityscapes": "d2f6910fd056c1ee9873777ae838e7ac4a2c833598ae62a04188e5ab2f4ea036",
    "facades": "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0",
    "horse2zebra": "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1",
    "iphone2dslr_flower": "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113",
    "maps": "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e",
    "monet2photo": "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04",
    "summer2winter_yosemite": "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9",
    "ukiyoe2photo": "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08",
    "vangogh2photo": "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff",
}


class UnsafeArchiveError(DatasetError):
    """An archive has a member that could write outside the extraction folder."""


def host_reachable(url, timeout=5.0):
    """None when a TCP connection to `url`'s host and port opens within `timeout`
    seconds (name lookup included), else the reason as a string. Used to fail fast
    offline instead of waiting out a downloader's own retries."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return None  # file:// and the like: nothing to reach
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result = {}

    def probe():
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            result["ok"] = True
        except OSError as err:
            result["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if result.get("ok"):
        return None
    return result.get("error", f"no answer from {parts.hostname}:{port} within {timeout:g} s")


def sha256(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, target, verbose=True, check=None):
    """Download url to target via target.part; the part file is removed on any failure.

    `check(part)` runs on the complete part file before it is renamed; it raises to
    reject the download (nothing is left in place then).
    """
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if verbose:
                import keras

                print(f"Downloading {url}")
                bar = keras.utils.Progbar(total, unit_name="byte")
            done = 0
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                done += len(block)
                if bar is not None:
                    bar.update(done)
        if check is not None:
            check(part)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(target)


_HAS_DATA_FILTER = hasattr(tarfile, "data_filter")  # Python 3.10.12+, 3.11.4+, 3.12+


def _unsafe_path(name):
    """Why a member name could land outside the extraction folder, or None."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "a '..' component"
    return None


def _check_tar_members(tar, archive):
    """Refuse (UnsafeArchiveError) any member the `data` filter would refuse: absolute or
    `..` paths, links pointing outside, device files and pipes. Returns the members with
    setuid/setgid/sticky bits cleared."""
    members = tar.getmembers()
    for m in members:
        why = _unsafe_path(m.name)
        if why is None and (m.issym() or m.islnk()):
            base = posixpath.dirname(m.name) if m.issym() else ""
            target = posixpath.normpath(posixpath.join(base, m.linkname))
            if m.linkname.startswith("/") or target == ".." or target.startswith("../"):
                why = f"a link to '{m.linkname}' outside the archive's folder"
        if why is None and (m.isdev() or m.isfifo()):
            why = "a device file or pipe"
        if why:
            raise UnsafeArchiveError(f"Archive '{archive}' is unsafe: member '{m.name}' has {why}.")
        m.mode &= 0o777 & ~(stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    return members


def _check_zip_members(zf, archive):
    for info in zf.infolist():
        why = _unsafe_path(info.filename)
        if why is None and stat.S_ISLNK(info.external_attr >> 16):
            why = "a symbolic link (zip archives of datasets hold plain files)"
        if why:
            raise UnsafeArchiveError(f"Archive '{archive}' is unsafe: member '{info.filename}' has {why}.")


def _extract(archive, dest):
    """Extract a .tar.gz or .zip into dest (via a temporary folder, swapped in at the end).

    Raises UnsafeArchiveError for an unsafe member (see the module docstring) and
    DatasetError for a damaged archive; either way no `.extracting` folder is left.
    """
    tmp = dest.with_name(dest.name + ".extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tar:
                members = _check_tar_members(tar, archive)
                if _HAS_DATA_FILTER:
                    tar.extractall(tmp, members=members, filter="data")
                else:  # older Pythons: _check_tar_members is the safeguard
                    tar.extractall(tmp, members=members)
        elif archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                _check_zip_members(zf, archive)
                zf.extractall(tmp)
        else:
            raise DatasetError(f"Don't know how to extract '{archive}' (expected .tar.gz or .zip).")
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, DatasetError) or not isinstance(err, Exception):
            raise
        if _HAS_DATA_FILTER and isinstance(err, tarfile.FilterError):
            raise UnsafeArchiveError(f"Archive '{archive}' is unsafe: {err}.") from None
        if isinstance(err, (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error)):
            raise DatasetError(f"Archive '{archive}' is damaged ({err}); delete it and download again.") from None
        if isinstance(err, OSError):
            raise DatasetError(
                f"Archive '{archive}' could not be extracted into '{tmp}' ({type(err).__name__}: {err})."
            ) from None
        raise
    if dest.exists():
        shutil.rmtree(dest)
    tmp.replace(dest)


def download_archive(name, url, archive_name, *, file_hash=None, cache_dir=None, verbose=True):
    """Download (once), verify and extract an archive; returns the extraction folder.

    `file_hash` is a SHA-256 hex digest. Without one, the hash of the first download is
    recorded in ``<archive>.sha256`` and later calls verify the archive against it.
    """
    cache_dir = Path(cache_dir) if cache_dir else downloads_root()
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / archive_name
    recorded = archive.with_name(archive.name + ".sha256")
    extracted = cache_dir / f"{name}_extracted"
    expected = (file_hash or (recorded.read_text() if recorded.exists() else "")).strip().lower() or None
    digest = {}

    def verify(path, fresh):
        digest["actual"] = actual = sha256(path)
        if expected and actual != expected:
            what = f"The download from {url}" if fresh else f"'{archive}'"
            advice = "It was not kept." if fresh else "Delete it and download again."
            raise DatasetError(
                f"{what} has SHA-256 {actual}, expected {expected}: the file is damaged or not "
                f"the published archive. {advice}"
            )

    if not archive.exists():
        try:
            _fetch(url, archive, verbose=verbose, check=lambda part: verify(part, fresh=True))
        except (urllib.error.URLError, OSError) as err:
            raise DatasetError(
                f"Could not download '{name}' from {url} ({err}). Without internet, download "
                f"{url} on another machine and copy it to '{archive}', or extract it and pass "
                f"the extracted folder as the dataset path."
            ) from None
    else:
        verify(archive, fresh=False)
    if not extracted.exists():
        try:
            _extract(archive, extracted)
        except UnsafeArchiveError as err:
            archive.unlink(missing_ok=True)
            recorded.unlink(missing_ok=True)
            raise UnsafeArchiveError(f"{err} It was removed from the cache and not extracted.") from None
    if not recorded.exists():  # trusted only once it has extracted cleanly
        recorded.write_text(digest["actual"] + "\n")
    return extracted


def _dataset_folder(extracted, name):
    """The archives unpack to `<name>/`; return it (or the extraction folder itself)."""
    inner = extracted / name
    return inner if inner.is_dir() else extracted


def download_pix2pix(name, *, cache_dir=None, origin=None, file_hash=None, verbose=True):
    """Download a Berkeley pix2pix dataset and return its folder (`<name>/{train,val,...}`).

    `origin` overrides the URL (a mirror or a `file://` path). Train facades, cityscapes
    and maps with the direction in `PIX2PIX_DATASETS[name]["direction"]`.
    """
    if name not in PIX2PIX_DATASETS and origin is None:
        raise ValueError(f"Unknown pix2pix dataset {name!r}; known: {sorted(PIX2PIX_DATASETS)}.")
    url = origin or PIX2PIX_URL.format(name=name)
    extracted = download_archive(name, url, f"{name}.tar.gz", file_hash=file_hash, cache_dir=cache_dir, verbose=verbose)
    return _dataset_folder(extracted, name)


def download_cyclegan(name, *, cache_dir=None, origin=None, file_hash=None, verbose=True):
    """Download a CycleGAN dataset (`trainA/trainB/testA/testB`) and return its folder.

    The archive is checked against the published SHA-256 unless `origin` points elsewhere.
    """
    if name not in CYCLEGAN_DATASETS and origin is None:
        raise ValueError(f"Unknown CycleGAN dataset {name!r}; known: {sorted(CYCLEGAN_DATASETS)}.")
    url = origin or CYCLEGAN_URL.format(name=name)
    if file_hash is None and origin is None:
        file_hash = CYCLEGAN_DATASETS[name]
    extracted = download_archive(name, url, f"{name}.zip", file_hash=file_hash, cache_dir=cache_dir, verbose=verbose)
    return _dataset_folder(extracted, name)
