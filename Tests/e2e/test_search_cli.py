"""`iris search` from the command line over a data folder: labels reached through WordNet,
the reason printed, and refusals as one-line errors."""


from conftest import iris, make_jpeg, variant


def test_cli_search_finds_labelled_photos_by_a_broader_word(workdir, database):
    data = workdir / "data"
    base = make_jpeg(workdir / "base.jpg", 320, 240)
    for index, label in enumerate(["malamute", "malamute", "espresso"]):
        folder = workdir / "photos" / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.jpg").write_bytes(variant(base, index))
    imported = iris("import", str(workdir / "photos"), "--project", "Kennel", "--label-from-folders",
                    database_url=database, data_dir=data)
    assert imported.returncode == 0, imported.stderr

    dogs = iris("search", "a dog", "--project", "Kennel", database_url=database, data_dir=data)
    assert dogs.returncode == 0, dogs.stderr
    assert "Terms: dog (WordNet)" in dogs.stdout
    lines = [line for line in dogs.stdout.splitlines() if line.startswith("1.000")]
    assert len(lines) == 2 and all('dog: label "malamute"' in line for line in lines), dogs.stdout
    drinks = iris("search", "beverage", database_url=database, data_dir=data)
    assert drinks.returncode == 0 and drinks.stdout.count('label "espresso"') == 1, drinks.stdout

    for args, message in [(["search", "   "], "give the words to search for"),
                          (["search", "dog", "--project", "Nowhere"], "no project is named or numbered Nowhere"),
                          (["search", "x" * 300], "at most 200 characters")]:
        refused = iris(*args, database_url=database, data_dir=data)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
        assert "Fatal error" not in refused.stderr
