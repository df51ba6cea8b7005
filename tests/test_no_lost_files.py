"""No lost files: ``--overwrite`` replaces datasets only, atomically; export never writes over the
trained policy; user files are read without unpickling objects; and an unexpected error is one
line unless ``--debug`` asks for the traceback."""

from __future__ import annotations

import ast
import hashlib
import shutil
import struct
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import diffil
from diffil import api
from diffil.algorithms.run import train
from diffil.cli import main
from diffil.data import load_dataset, npz_format, save_dataset
from diffil.errors import DiffilError, reading

SRC = Path(diffil.__file__).parent
COLLECT = ["collect", "--task", "pointmaze-umaze", "--episodes", "2", "--overwrite", "--out"]


def digest(path: Path) -> str:
    """Hash of a file, or of a folder's file names and contents."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(str(file.relative_to(path.parent)).encode() + file.read_bytes())
    return h.hexdigest()


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def make_folder_of_datasets(path: Path, demos) -> None:
    """Like the repository's data/: several datasets and a README."""
    path.mkdir()
    save_dataset(demos, path / "a.hdf5")
    save_dataset(demos, path / "b.npz")
    (path / "README.md").write_text("shipped demonstrations\n")


def make_source_tree(path: Path, demos) -> None:
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "module.py").write_text("x = 1\n")


def make_folder_with_a_dataset_and_more(path: Path, demos) -> None:
    save_dataset(demos, path)
    (path / "notes.txt").write_text("my notes\n")


def make_plain_npz(path: Path, demos) -> None:
    np.savez(path, weights=np.arange(5))


def make_foreign_hdf5(path: Path, demos) -> None:
    with h5py.File(path, "w") as h5:
        h5.create_dataset("results", data=np.arange(5))


def make_text_file(path: Path, demos) -> None:
    path.write_text("not a dataset\n")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("data", make_folder_of_datasets),
        ("src", make_source_tree),
        ("demos", make_folder_with_a_dataset_and_more),
        ("weights.npz", make_plain_npz),
        ("results.hdf5", make_foreign_hdf5),
        ("notes", make_text_file),
    ],
    ids=["folder-of-datasets", "source-tree", "dataset-plus-notes", "npz", "hdf5", "text"],
)
def test_overwrite_refuses_what_is_not_a_dataset(tmp_path, capsys, umaze_demos, name, make):
    path = tmp_path / name
    make(path, umaze_demos)
    before = digest(path)
    code, err = run_cli(capsys, *COLLECT, str(path))
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"diffil: error: {path}: exists and is not ")
    assert "dataset, so --overwrite leaves it alone" in line
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary files left


@pytest.mark.parametrize("name", ["demos.npz", "demos.hdf5", "demos", "empty-folder"])
def test_overwrite_replaces_a_dataset(tmp_path, capsys, umaze_demos, name):
    path = tmp_path / name
    if name == "empty-folder":
        path.mkdir()
    else:
        save_dataset(umaze_demos, path)
    assert len(umaze_demos) != 2
    code, err = run_cli(capsys, *COLLECT, str(path))
    assert code == 0, err
    assert len(load_dataset(path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_failed_write_keeps_the_old_dataset(tmp_path, umaze_demos, monkeypatch):
    path = save_dataset(umaze_demos, tmp_path / "demos.npz")
    before = digest(path)

    def write_half_then_fail(dataset, tmp):
        tmp.write_bytes(b"PK half a file")
        raise OSError("disk full")

    monkeypatch.setattr(npz_format, "write_npz", write_half_then_fail)
    with pytest.raises(DiffilError, match=r"cannot write here \(disk full\)"):
        save_dataset(umaze_demos.subset(num_trajectories=2), path, overwrite=True)
    assert digest(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["demos.npz"]


def test_quickstart_refuses_to_replace_a_folder_that_is_not_its_run(tmp_path):
    stranger = tmp_path / "runs" / "drail"
    stranger.mkdir(parents=True)
    (stranger / "thesis.tex").write_text("\\begin{document}\n")
    with pytest.raises(DiffilError, match="is not a diffil run"):
        api.quickstart(tmp_path, episodes=2, steps=64, progress=False)
    assert (stranger / "thesis.tex").read_text() == "\\begin{document}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # failed before collecting


@pytest.mark.parametrize(
    ("overrides", "error"),
    [({"ppo": {"n_stepz": 64}}, "n_stepz"), ({"coverage": 1.0}, "pass coverage=")],
)
def test_quickstart_checks_its_overrides_before_collecting(tmp_path, overrides, error):
    with pytest.raises(DiffilError, match=error):
        api.quickstart(tmp_path, episodes=2, steps=64, progress=False, overrides=overrides)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def bc_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bc") / "run"
    settings = {
        "num_demos": 4,
        "bc": {"steps": 10, "batch_size": 16},
        "eval": {"episodes": 1, "final_episodes": 1},
    }
    train("bc", "pointmaze-umaze", out=out, overrides=settings, progress=False)
    return out


def test_export_never_overwrites_the_trained_policy(bc_run, capsys):
    trained = bc_run / "policy.pt"
    before = trained.read_bytes()
    code, err = run_cli(capsys, "export", str(bc_run), "--format", "diffil")
    assert code == 0, err
    exported = bc_run / "policy.export.pt"
    assert exported.is_file()
    np.testing.assert_array_equal(
        diffil.Policy.load(exported).predict(np.zeros(6)),
        diffil.Policy.load(trained).predict(np.zeros(6)),
    )
    assert run_cli(capsys, "export", str(bc_run), "--format", "torchscript")[0] == 0
    assert (bc_run / "policy.ts.pt").is_file()
    for source in (bc_run, trained):  # --out at the trained policy: refused
        for fmt in ("diffil", "torchscript"):
            code, err = run_cli(
                capsys, "export", str(source), "--format", fmt, "--out", str(trained)
            )
            assert code == 2
            assert one_line(err) == (
                f"diffil: error: {trained}: is the trained policy, which export never "
                "overwrites; choose another --out"
            )
    assert trained.read_bytes() == before


def test_checkpoints_never_unpickle_objects(bc_run, tmp_path, capsys):
    """A checkpoint holding a pickled object is refused, and the object's code never runs."""
    run = shutil.copytree(bc_run, tmp_path / "run")
    marker = tmp_path / "code-ran"
    torch.save({"state": _RunsCode(str(marker))}, run / "checkpoints" / "latest" / "optimizer.pt")
    code, err = run_cli(capsys, "train", "--resume", str(run), "--quiet")
    assert code == 2
    line = one_line(err)
    assert line.startswith(f"diffil: error: {run / 'checkpoints' / 'latest'}: cannot read this ")
    assert line.endswith("; restore it from a backup, or start a new run")
    assert not marker.exists()


class _RunsCode:
    """Unpickling this creates a file: what a hostile checkpoint could do."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_every_torch_load_in_diffil_is_weights_only():
    unsafe = []
    for file in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "load"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "torch"
            ):
                flags = {k.arg: k.value for k in node.keywords}
                flag = flags.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    unsafe.append(f"{file.relative_to(SRC)}:{node.lineno}")
    assert unsafe == []


def test_warnings_about_a_corrupt_file_do_not_reach_the_terminal(bc_run, tmp_path):
    """torch warns about a garbled pickle before failing: the user sees the error only."""
    data = bytearray((bc_run / "policy.pt").read_bytes())
    with zipfile.ZipFile(bc_run / "policy.pt") as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    start = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[start + 26 : start + 30])
    pickle_start = start + 30 + name_len + extra_len
    assert data[pickle_start] == 0x80  # PROTO opcode; the next byte is the protocol
    data[pickle_start + 1 : pickle_start + 3] = b"\xfc\xff"  # protocol 252, a bad opcode
    path = tmp_path / "policy.pt"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(DiffilError, match="not a readable policy file"):
            diffil.Policy.load(path)
    assert [str(w.message) for w in seen] == []


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(api, "dataset_info", broken)
    monkeypatch.delenv("DIFFIL_DEBUG", raising=False)
    code, err = run_cli(capsys, "data", "info", "x.npz")
    assert code == 1
    assert one_line(err) == (
        "diffil: error: RuntimeError: boom (run with --debug for the traceback)"
    )

    code, err = run_cli(capsys, "--debug", "data", "info", "x.npz")
    assert code == 1
    assert err.startswith("Traceback (most recent call last):")
    assert "in broken" in err
    assert err.strip().splitlines()[-1] == "diffil: error: RuntimeError: boom"

    monkeypatch.setenv("DIFFIL_DEBUG", "1")
    code, err = run_cli(capsys, "data", "info", "x.npz")
    assert code == 1 and "Traceback" in err and "in broken" in err

    monkeypatch.setenv("DIFFIL_DEBUG", "0")
    assert one_line(run_cli(capsys, "data", "info", "x.npz")[1]).endswith("for the traceback)")


def test_debug_shows_where_a_user_error_came_from(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DIFFIL_DEBUG", raising=False)
    path = tmp_path / "junk.npz"
    path.write_bytes(b"PK\x03\x04" + bytes(range(64)))
    code, err = run_cli(capsys, "data", "info", str(path))
    assert code == 2 and one_line(err).startswith(f"diffil: error: {path}: cannot read this ")
    code, err = run_cli(capsys, "--debug", "data", "info", str(path))
    assert code == 2 and "Traceback" in err
    assert err.strip().splitlines()[-1].startswith(f"diffil: error: {path}: cannot read this ")


def test_saved_checkpoint_payloads_load_weights_only(bc_run):
    for file in (bc_run / "checkpoints" / "latest").glob("*.pt"):
        torch.load(file, weights_only=True)  # raises on any pickled object


def test_reading_passes_ctrl_c_through_and_warnings_on_after_success():
    with pytest.raises(KeyboardInterrupt), reading("f.npz", "dataset", "fix it"):
        raise KeyboardInterrupt
    with pytest.raises(DiffilError) as info, reading("f.npz", "dataset", "fix it"):
        raise KeyError("observations")
    assert str(info.value) == (
        "f.npz: cannot read this dataset: it is corrupt or truncated, or not a dataset "
        "(KeyError: 'observations'); fix it"
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with reading("f.npz", "dataset", "fix it"):
            for _ in range(3):
                warnings.warn("old format", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["old format"]
