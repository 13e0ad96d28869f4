"""Optuna study over a grammar's terms: search space, objective, storage, workers and the leaderboard.

    run_search(grammar, task_name, …) -> optuna.Study      create or resume a study and run its trials
    run_worker(study_name, storage, results_dir, …)        join an existing study (``archsearch worker``)
    open_storage(url_or_none, study_dir)                   journal file (default) or PostgreSQL
    SearchSpace, Candidate, space_from_grammar             the space and its canonical candidate keys
    leaderboard(study), summary(study), count_trials(study)

Nothing heavy is imported here: optuna and torch load when a search runs.
"""

from archsearch.search.errors import SearchError, StorageError, StudyError
from archsearch.search.objective import OBJECTIVES, Objective, save_trial_files, term_descriptions, trial_dir
from archsearch.search.space import Candidate, SearchSpace, parse_space_overrides, space_from_grammar
from archsearch.search.storage import check_journal, claim_lock, describe_storage, journal_path, open_storage
from archsearch.search.study import (
    PRUNERS,
    SAMPLERS,
    check_device,
    count_trials,
    default_study_name,
    leaderboard,
    load_settings,
    recover_stale_trials,
    run_search,
    run_worker,
    summary,
)

__all__ = [
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "Candidate",
    "Objective",
    "SearchError",
    "SearchSpace",
    "StorageError",
    "StudyError",
    "check_device",
    "check_journal",
    "claim_lock",
    "count_trials",
    "default_study_name",
    "describe_storage",
    "journal_path",
    "leaderboard",
    "load_settings",
    "open_storage",
    "parse_space_overrides",
    "recover_stale_trials",
    "run_search",
    "run_worker",
    "save_trial_files",
    "space_from_grammar",
    "summary",
    "term_descriptions",
    "trial_dir",
]
