"""The training container's entry point (mlops.training.sagemaker_entry), in-process on a played /opt/ml: the source
unpacked, each input placed where its `.dvc` file says only when it is that md5, a failure's one line for
SageMaker. The whole entry point with `dvc repro` runs in tests/integration/test_retrain_sagemaker.py."""

import io
import shutil
import tarfile

import pytest
from click.testing import CliRunner

from mlops.core.cli import cli
from mlops.core.errors import MlopsError
from mlops.training import sagemaker_entry as entry
from mlops.training.example import HERE, RAW
from mlops.training.project import Project, file_md5

pytestmark = pytest.mark.unit


def archive(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


@pytest.fixture
def root(tmp_path):
    """/opt/ml as SageMaker fills it: the source archive and the data version, split like the DVC remote."""
    data = b"x1,x2,x3,segment,label\n0.1,0.2,0.3,a,1\n"
    raw = tmp_path / "raw.csv"
    raw.write_bytes(data)
    md5 = file_md5(raw)
    source = entry.channel(tmp_path, "source")
    source.mkdir(parents=True)
    archive(source / "abc.tar.gz", {
        "params.yaml": (HERE / "params.yaml").read_bytes(),
        "dvc.yaml": (HERE / "dvc.yaml").read_bytes(),
        f"{RAW}.dvc": f"outs:\n- md5: {md5}\n  path: raw.csv\n".encode(),
    })  # fmt: skip
    stored = entry.channel(tmp_path, "data") / md5[:2] / md5[2:]
    stored.parent.mkdir(parents=True)
    shutil.copy(raw, stored)
    return tmp_path


def test_the_source_is_unpacked_and_the_input_placed_at_its_dvc_path(root, tmp_path):
    work = tmp_path / "work"
    entry.unpack_source(root, work)
    project = Project(work)
    entry.place_inputs(root, project)
    assert project.verify_datasets() == project.datasets()


def test_an_input_missing_from_the_channel_is_named(root, tmp_path):
    shutil.rmtree(entry.channel(root, "data"))
    entry.unpack_source(root, tmp_path / "work")
    with pytest.raises(MlopsError, match=rf"data version {RAW}@[0-9a-f]{{32}} is not in channel 'data'"):
        entry.place_inputs(root, Project(tmp_path / "work"))


def test_a_corrupt_copy_in_the_channel_is_a_checksum_error(root, tmp_path):
    (stored,) = [p for p in entry.channel(root, "data").rglob("*") if p.is_file()]
    stored.write_bytes(b"x1\n9\n")
    entry.unpack_source(root, tmp_path / "work")
    with pytest.raises(MlopsError, match=f"checksum mismatch for {RAW}"):
        entry.place_inputs(root, Project(tmp_path / "work"))


def test_an_archive_reaching_outside_the_work_directory_is_refused(root, tmp_path):
    (old,) = entry.channel(root, "source").iterdir()
    old.unlink()
    archive(entry.channel(root, "source") / "evil.tar.gz", {"../escaped": b"x"})
    with pytest.raises(tarfile.TarError):
        entry.unpack_source(root, tmp_path / "work")
    assert not (tmp_path / "escaped").exists()


def test_the_failure_is_written_where_sagemaker_reads_it_and_the_exit_is_non_zero(tmp_path):
    result = CliRunner().invoke(cli, ["pipeline", "sagemaker-entry", "--root", str(tmp_path)])
    assert result.exit_code == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert "channel 'source' must hold one source archive, found 0" in failure
    entry.write_failure(tmp_path, "x" * 5000)
    assert len((tmp_path / "output" / "failure").read_text()) == entry.FAILURE_LIMIT
