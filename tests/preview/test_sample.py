"""The sampler: stratified by category, deterministic, every category shown, the limit kept."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from osai_import.preview.sample import SPARE, Sampler, rank


def _records(counts: dict[str, int], seed: int = 1) -> list[tuple[str, str]]:
    """Return (key, category) pairs: ``counts[c]`` records of each category, shuffled."""
    pairs = [(f"{category}/{n:05d}.jpg", category)
             for category, count in counts.items() for n in range(count)]
    random.Random(seed).shuffle(pairs)
    return pairs


def _sample(pairs: list[tuple[str, str]], limit: int, seed: int = 0) -> list[str]:
    sampler: Sampler[str] = Sampler(limit, seed)
    for key, category in pairs:
        sampler.add(key, category, (), key)
    return sampler.choose()


def test_a_source_within_the_limit_is_shown_whole_in_its_order() -> None:
    pairs = _records({"a": 3, "b": 2})
    assert _sample(pairs, 5) == [key for key, _ in pairs]
    assert _sample(pairs, 200) == [key for key, _ in pairs]


def test_the_limit_is_kept_and_strata_get_places_in_proportion() -> None:
    pairs = _records({"common": 6000, "middle": 3000, "rare": 900, "rarer": 90, "single": 1})
    chosen = _sample(pairs, 200)
    assert len(chosen) == 200 and len(set(chosen)) == 200
    got = Counter(key.split("/")[0] for key in chosen)
    # Every category once at least; the rest within a place or two of its share.
    assert got["single"] == 1
    total = sum(c for _, c in {"common": 6000, "middle": 3000, "rare": 900, "rarer": 90}.items())
    for category, count in {"common": 6000, "middle": 3000, "rare": 900, "rarer": 90}.items():
        assert abs(got[category] - 199 * count / total) <= 2, got
    # In stream order, as the source lists them.
    order = {key: n for n, (key, _) in enumerate(pairs)}
    assert [order[k] for k in chosen] == sorted(order[k] for k in chosen)


def test_the_same_data_and_seed_give_the_same_sample_in_any_order() -> None:
    pairs = _records({"a": 500, "b": 300, "c": 7})
    first = _sample(pairs, 40)
    shuffled = list(pairs)
    random.Random(99).shuffle(shuffled)
    assert sorted(_sample(shuffled, 40)) == sorted(first)
    assert _sample(pairs, 40) == first
    other = _sample(pairs, 40, seed=1)
    assert sorted(other) != sorted(first)  # another seed, another sample
    assert Counter(k[0] for k in other) == Counter(k[0] for k in first)  # same strata


def test_every_category_is_shown_when_the_limit_allows_rarest_first() -> None:
    counts = {f"class_{n:02d}": 1 + n * 40 for n in range(30)}
    chosen = _sample(_records(counts), 30)
    assert {key.split("/")[0] for key in chosen} == set(counts)
    # Fewer places than categories: the rarest categories get them.
    few = _sample(_records(counts), 5)
    assert {key.split("/")[0] for key in few} == {f"class_{n:02d}" for n in range(5)}


def test_box_labels_stand_for_the_category_and_one_image_may_show_several() -> None:
    sampler: Sampler[str] = Sampler(3, seed=0)
    for n in range(1000):
        sampler.add(f"street/{n}.jpg", None, ["car", "car", "person"], f"street/{n}")
    sampler.add("bike/1.jpg", None, ["bicycle", "person", ""], "bike/1")
    sampler.add("empty/1.jpg", None, [], "empty/1")
    for n in range(500):
        sampler.add(f"empty/{n + 2}.jpg", None, [], f"empty/{n + 2}")
    chosen = sampler.choose()
    assert len(chosen) == 3
    # The rarest label (bicycle) brings its image, which shows a person too; car and the
    # unlabelled stratum get one each.
    assert "bike/1" in chosen
    assert sum(c.startswith("street/") for c in chosen) == 1
    assert sum(c.startswith("empty/") for c in chosen) == 1
    assert sampler.images_per_label() == Counter(car=1000, person=1001, bicycle=1)


def test_memory_stays_bounded_by_the_limit() -> None:
    sampler: Sampler[int] = Sampler(50, seed=3)
    for n in range(100_000):
        sampler.add(f"k{n}", f"c{n % 20}", (), n)
    assert sampler.seen == 100_000
    assert len(sampler._kept) <= 2 * (SPARE * 50 + 64) + 20
    chosen = sampler.choose()
    assert len(chosen) == 50
    per_category = Counter(n % 20 for n in chosen)
    assert len(per_category) == 20 and all(2 <= v <= 3 for v in per_category.values())


def _whole(records: list[tuple[str, tuple[str, ...]]], limit: int, seed: int) -> list[str]:
    """Choose as the module's docstring says, from every record at once (no pruning)."""
    ranked = {key: (rank(seed, key), n) for n, (key, _) in enumerate(records)}
    per_label = Counter(label for _, labels in records for label in labels)
    chosen: set[str] = set()
    shown: set[str] = set()
    for label in sorted(per_label, key=lambda name: (per_label[name], name)):
        if len(chosen) >= limit:
            break
        if label not in shown:
            key, labels = min((r for r in records if label in r[1]), key=lambda r: ranked[r[0]])
            chosen.add(key)
            shown.update(labels)
    strata: dict[str, list[str]] = {}
    for key, labels in records:
        stratum = min(labels, key=lambda name: (per_label[name], name)) if labels else ""
        strata.setdefault(stratum, []).append(key)
    order = sorted(((i + 0.5) / len(keys), ranked[key][0], ranked[key][1], key)
                   for keys in strata.values()
                   for i, key in enumerate(sorted(keys, key=lambda k: ranked[k])))
    for *_, key in order:
        if len(chosen) >= limit:
            break
        chosen.add(key)
    return sorted(chosen, key=lambda k: ranked[k][1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_pass_chooses_what_a_look_at_every_record_chooses(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"label_{n}" for n in range(25)]
    weights = [1 / (n + 1) for n in range(25)]
    records = [(f"img_{n:06d}.jpg", tuple(sorted(set(rng.choices(names, weights,
                                                                  k=rng.randint(0, 5))))))
               for n in range(20_000)]
    sampler: Sampler[str] = Sampler(120, seed)
    for key, labels in records:
        sampler.add(key, None, labels, key)
    assert sampler.choose() == _whole(records, 120, seed)


def test_the_rank_is_a_stable_hash_of_seed_and_key() -> None:
    assert rank(0, "a.jpg") == rank(0, "a.jpg")
    assert rank(0, "a.jpg") != rank(1, "a.jpg")
    assert rank(0, "a.jpg") != rank(0, "b.jpg")
    assert 0 <= rank(7, "x") < 1 << 64
    # Keys that are not valid UTF-8 (a file name's lone surrogates) still rank.
    assert rank(0, "bad\udcff.jpg") >= 0


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="1 record or more"):
        Sampler(0)
