"""The worker loop's small pieces on their own: why a worker stops, which objective a study gets, how a failed
trial is reported (the loop itself runs in test_study.py and test_workers.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from archsearch.search import worker

STUDY = object()


@pytest.fixture
def counts(monkeypatch):
    """Set the finished / running counts, steps spent and the clock that stop_reason reads."""
    state = {"finished": 0, "RUNNING": 0, "steps": 0, "now": 100.0}
    monkeypatch.setattr(worker, "count_trials", lambda study: {"finished": state["finished"],
                                                               "RUNNING": state["RUNNING"]} if study is STUDY else None)
    monkeypatch.setattr(worker, "steps_spent", lambda study: state["steps"] if study is STUDY else None)
    monkeypatch.setattr(worker, "time", SimpleNamespace(time=lambda: state["now"]))
    return state


def _reason(step_budget=None, target=10, deadline=None, space_size=None):
    return worker.stop_reason(STUDY, SimpleNamespace(step_budget=step_budget), target, deadline, space_size)


def test_the_target_counts_finished_and_running_trials(counts):
    counts.update(finished=6, RUNNING=3)
    assert _reason(target=10) is None
    counts.update(RUNNING=4)
    assert _reason(target=10) == "target"
    counts.update(finished=10, RUNNING=0)
    assert _reason(target=10, space_size=10) == "target"  # the target is checked first


def test_a_space_is_exhausted_when_every_configuration_has_finished(counts):
    counts.update(finished=7, RUNNING=1)
    assert _reason(target=100, space_size=8) is None
    assert _reason(target=100, space_size=7) == "space exhausted"
    assert _reason(target=100, space_size=None) is None


def test_the_step_budget_is_spent_at_exactly_its_steps(counts):
    counts.update(steps=299)
    assert _reason(step_budget=300) is None
    counts.update(steps=300)
    assert _reason(step_budget=300) == "step budget spent"
    assert _reason(step_budget=None) is None


def test_the_time_budget_is_spent_at_its_deadline(counts):
    assert _reason(deadline=100.5) is None
    assert _reason(deadline=100.0) == "time budget spent"
    assert _reason(deadline=None) is None


def test_the_objective_of_each_study_kind(monkeypatch):
    """A search gets the search objective and its number of distinct candidates (the space and the baselines);
    a confirmation study its own objective, unbounded."""
    import archsearch.search.confirm as confirm
    import archsearch.search.objective as objective
    import archsearch.search.space as space

    made = []
    monkeypatch.setattr(confirm, "ConfirmObjective", lambda *a, **k: made.append(("confirm", a, k)) or "c")
    monkeypatch.setattr(objective, "Objective", lambda *a, **k: made.append(("search", a, k)) or "s")
    fake_space = SimpleNamespace(size=lambda: 7)
    monkeypatch.setattr(space.SearchSpace, "from_dict", staticmethod(lambda d: fake_space if d == {"x": 1} else None))
    task, where = object(), object()
    search = SimpleNamespace(kind="search", space={"x": 1}, baselines=("paper", "transformer"))
    assert worker._objective(search, task, where, "cpu") == ("s", 9)
    assert made == [("search", (search, fake_space, task, where), {"device": "cpu"})]
    made.clear()
    confirmation = SimpleNamespace(kind="confirm")
    assert worker._objective(confirmation, task, where, "cuda:1") == ("c", None)
    assert made == [("confirm", (confirmation, task, where, "cuda:1"), {})]


def test_a_failed_trial_is_recorded_and_reported_on_one_line(capsys):
    """The error is kept (its first 2,000 characters) as the trial's "error" attribute and printed on stderr,
    whitespace folded, cut at 300 characters."""
    stored = {}
    trial = SimpleNamespace(number=5, set_user_attr=lambda key, value: stored.__setitem__(key, value))
    error = "ValueError: bad\n  value\tat  step 3 " + "x" * 2_100
    worker._report_failure(trial, error)
    assert stored == {"error": error[:2000]}
    out, err = capsys.readouterr()
    assert out == "" and err == "archsearch: trial 5 failed: " + " ".join(error.split())[:300] + "\n"
    assert err.startswith("archsearch: trial 5 failed: ValueError: bad value at step 3 xxx")


def test_a_trial_that_cannot_store_its_error_is_still_reported(capsys):
    def refuse(key, value):
        raise RuntimeError("storage gone")

    worker._report_failure(SimpleNamespace(number=2, set_user_attr=refuse), "OSError: boom")
    assert capsys.readouterr().err == "archsearch: trial 2 failed: OSError: boom\n"
