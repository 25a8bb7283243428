"""The learning commands on real photos: `iris learn add-class | classify`, `iris train`,
`iris evaluate`, then the same project's model page in Chromium."""

import pathlib

from conftest import iris

EVALSET = pathlib.Path(__file__).resolve().parents[2] / ".cache" / "evalset"


def test_cli_teaches_classes_classifies_trains_and_evaluates(workdir, database):
    data = workdir / "data"
    for name in ["brick", "grass", "coffee"]:
        result = iris("learn", "add-class", "--project", "Textures", "--name", name, str(EVALSET / name),
                      database_url=database, data_dir=data)
        assert result.returncode == 0, result.stderr
        assert f"Class {name} of Textures: 30 examples" in result.stdout
    again = iris("learn", "add-class", "--project", "Textures", "--name", "brick", str(EVALSET / "brick"),
                 database_url=database, data_dir=data)
    assert again.returncode != 0 and "already has a class named brick" in again.stderr

    # Photos the learner never saw: a taught class is named, an untaught one is unknown.
    unseen = workdir / "unseen.jpg"
    unseen.write_bytes((EVALSET / "gravel" / "03.jpg").read_bytes())
    answer = iris("learn", "classify", "--project", "Textures", str(EVALSET / "grass" / "07.jpg"), str(EVALSET / "cat" / "03.jpg"),
                  database_url=database, data_dir=data)
    assert answer.returncode == 0, answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].split(": ", 1)[1].startswith("grass"), answer.stdout
    assert lines[1].split(": ", 1)[1].startswith("unknown"), answer.stdout

    trained = iris("train", "--project", "Textures", "--activate", database_url=database, data_dir=data)
    assert trained.returncode == 0, trained.stderr
    assert "Classifier v1 of Textures: 3 classes" in trained.stdout and "is active" in trained.stdout

    for target in ["learner", "classifier"]:
        tested = iris("evaluate", "--project", "Textures", "--target", target, database_url=database, data_dir=data)
        assert tested.returncode == 0, tested.stderr
        accuracy = float(tested.stdout.split("accuracy")[1].split("%")[0])
        assert accuracy >= 80, tested.stdout
    missing = iris("evaluate", "--project", "Nowhere", database_url=database, data_dir=data)
    assert missing.returncode != 0 and "no project" in missing.stderr
